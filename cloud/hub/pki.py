"""Development PKI for the local IoT Core stand-in, made with the openssl CLI.

    python -m cloud.hub.pki [--dir .pki] [--thing cat-feeder] [--key-type rsa|ec] [--household FILE]

Writes into a git-ignored folder (default .pki/), reusing whatever already exists:

| file | what |
|---|---|
| ca.crt, ca.key, ca.der | the development CA (ca.der: DER for the device's `cadata`) |
| broker.crt, broker.key | broker, SAN localhost + 127.0.0.1 (+ `--broker-host` names), signed by the CA |
| device.crt, device.key | device, CN = thing name; device.crt.der, device.key.der for MicroPython's ssl |
| device-<thing>.crt/.key (+ .der) | another thing's device certificate, CN = <thing>: `device(thing)` |
| publisher.crt, publisher.key | the "cloud publisher", CN = cloud-publisher (publishes commands) |
| observer.crt, observer.key | CN = cloud-observer: reads the states topic, as the IoT rule does in AWS |
| hub.crt, hub.key | CN = cloud-hub: the self-hosted hub (cloud/hub/) reads button and states topics |
| rogue-ca.crt, rogue-ca.key, rogue-ca.der | a second, unrelated CA (negative tests) |
| rogue-device.crt/.key (+ .der) | a device certificate (CN = thing name) signed by the rogue CA |
| rogue-broker.crt/.key | a localhost broker certificate signed by the rogue CA |
| wrong-host-broker.crt/.key | a broker certificate of the real CA for the wrong host name |

`make pki` and `make hub` issue the device certificate of every thing of the household file
(cloud/household.py), so each board has its own; `make flash THING=` copies that thing's.

Keys are RSA-2048 by default, as on AWS IoT: CreateKeysAndCertificate issues RSA-2048 device keys and
the ATS endpoint's chain (Amazon Root CA 1) is RSA-2048, so the device's TLS handshake and heap are
tested on the path the board really takes. `--key-type ec` (P-256) makes smaller, faster keys, which
AWS IoT also accepts for certificates made from your own CSR. The folder is 0700
and keys 0600: cloud/hub/broker.py runs mosquitto as the invoking user (its `user` option) instead
of letting it drop root to `mosquitto`, so the keys need not be readable by anyone else.
The certificates stay valid for 10 years.
"""

import argparse
import ipaddress
import os
import subprocess
import sys
import tempfile

from cloud.handlers import bounds

DEFAULT_DIR = ".pki"
DEFAULT_THING = "cat-feeder"
PUBLISHER_CN = "cloud-publisher"
OBSERVER_CN = "cloud-observer"
HUB_CN = "cloud-hub"
DAYS = "3650"
WRONG_HOST = "not-the-broker.invalid"
KEY_TYPES = {
    "rsa": ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"),
    "ec": ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),
}
DEFAULT_KEY_TYPE = "rsa"


class CredentialsError(OSError):
    """A certificate, key or CA file of the PKI folder that TLS cannot load (damaged, or not PEM); one line.
    An OSError, as ssl.SSLError is: callers that report a failed connection report this one too."""


def credentials_error(pki, identity, error):
    return CredentialsError(
        "%s, %s or %s: not a certificate, key and CA that TLS loads (%s): restore them, or move them aside"
        " and run `make pki` (a new CA means flashing every board again)"
        % (pki.cert(identity), pki.key(identity), pki.cert("ca"), getattr(error, "reason", None) or error))


class Pki:
    """Paths of the generated files; `ensure()` creates the ones that are missing."""

    def __init__(
        self, directory=DEFAULT_DIR, thing=DEFAULT_THING, key_type=DEFAULT_KEY_TYPE, broker_hosts=()
    ):
        """broker_hosts: LAN host names and IP addresses the broker certificate must also name (the
        self-hosted hub serving real boards); a broker certificate without them is issued again."""
        self.dir = os.path.abspath(directory)
        self.broker_hosts = ["localhost", "127.0.0.1", *broker_hosts]
        self.broker_san = ",".join(("IP:" if _is_ip(host) else "DNS:") + host for host in self.broker_hosts)
        self.thing = thing
        self.key_type = key_type
        self.publisher_cn = PUBLISHER_CN
        self.observer_cn = OBSERVER_CN
        self.hub_cn = HUB_CN

    def path(self, name):
        return os.path.join(self.dir, name)

    def cert(self, name):
        return self.path(name + ".crt")

    def key(self, name):
        return self.path(name + ".key")

    def device(self, thing):
        """The name of `thing`'s device certificate and key (cert(), key(), path(name + ".crt.der")),
        issued by the CA if missing: every thing has its own, as each gets its own on AWS IoT."""
        if thing == self.thing:
            return "device"
        if not bounds.is_thing(thing):  # it becomes a file name and a certificate CN
            raise ValueError(
                "thing: expected 1-%d characters from [A-Za-z0-9_-], got %r" % (bounds.MAX_THING, thing)
            )
        name = "device-" + thing
        self._leaf(name, "ca", thing)
        self._der(name)
        return name

    def household(self, things):
        """{thing: certificate name} of each thing named, each issued by the CA where missing."""
        return {thing: self.device(thing) for thing in things}

    def ensure(self):
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self._ca("ca", "cat-feeder dev CA")
        self._ca("rogue-ca", "unrelated CA")
        if os.path.exists(self.cert("broker")) and not all(
            names_host(self.cert("broker"), host) for host in self.broker_hosts
        ):
            os.remove(self.cert("broker"))
        self._leaf("broker", "ca", "localhost", server=True, san=self.broker_san)
        self._leaf("wrong-host-broker", "ca", WRONG_HOST, server=True, san="DNS:" + WRONG_HOST)
        self._leaf("rogue-broker", "rogue-ca", "localhost", server=True, san="DNS:localhost,IP:127.0.0.1")
        self._leaf("device", "ca", self.thing)
        self._leaf("publisher", "ca", self.publisher_cn)
        self._leaf("observer", "ca", self.observer_cn)
        self._leaf("hub", "ca", self.hub_cn)
        self._leaf("rogue-device", "rogue-ca", self.thing)
        for name in ("device", "rogue-device"):
            self._der(name)
        for ca in ("ca", "rogue-ca"):
            if not os.path.exists(self.path(ca + ".der")):
                _openssl("x509", "-in", self.cert(ca), "-outform", "DER", "-out", self.path(ca + ".der"))
        return self

    def _new_key(self, name):
        _openssl("genpkey", *KEY_TYPES[self.key_type], "-out", self.key(name))
        os.chmod(self.key(name), 0o600)

    def _ca(self, name, cn):
        if os.path.exists(self.cert(name)):
            return
        self._new_key(name)
        _openssl(
            "req", "-x509", "-new", "-key", self.key(name), "-sha256", "-days", DAYS, "-subj", "/CN=" + cn,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", self.cert(name),
        )

    def _leaf(self, name, ca, cn, server=False, san=None):
        if os.path.exists(self.cert(name)):
            return
        self._new_key(name)
        usage = "serverAuth" if server else "clientAuth"
        extensions = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\n" % usage
        if san:
            extensions += "subjectAltName=%s\n" % san
        with tempfile.TemporaryDirectory() as tmp:
            csr = os.path.join(tmp, "req.csr")
            ext = os.path.join(tmp, "ext.cnf")
            with open(ext, "w") as f:
                f.write(extensions)
            _openssl("req", "-new", "-key", self.key(name), "-subj", "/CN=" + cn, "-out", csr)
            _openssl(
                "x509", "-req", "-in", csr, "-CA", self.cert(ca), "-CAkey", self.key(ca), "-CAcreateserial",
                "-CAserial", os.path.join(tmp, "serial"), "-sha256", "-days", DAYS, "-extfile", ext,
                "-out", self.cert(name),
            )

    def _der(self, name):
        if not os.path.exists(self.path(name + ".crt.der")):
            _openssl("x509", "-in", self.cert(name), "-outform", "DER", "-out", self.path(name + ".crt.der"))
        if not os.path.exists(self.path(name + ".key.der")):
            # MicroPython's mbedTLS takes the key as DER; PKCS#8 (RSA or EC) or SEC1 all parse.
            _openssl("pkey", "-in", self.key(name), "-outform", "DER", "-out", self.path(name + ".key.der"))
            os.chmod(self.path(name + ".key.der"), 0o600)


def _is_ip(host):
    return not isinstance(_normalised(host), str)


def _normalised(host):
    """An IP address as an ipaddress object (so 0:0::1 is ::1, as a TLS client compares them), or a DNS
    name in lower case without a trailing dot (DNS names compare case-insensitively)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return host.lower().rstrip(".")


def certificate_names(cert_path):
    """The DNS names and IP addresses a PEM certificate's subjectAltName holds (normalised as _normalised),
    which is what a TLS client checks a server's host against (RFC 6125: not the CN)."""
    from cryptography import x509

    with open(cert_path, "rb") as f:
        text = f.read()
    try:
        certificate = x509.load_pem_x509_certificate(text)
    except ValueError:
        raise CredentialsError("%s: not a PEM certificate: restore it, or move it aside and run `make pki`"
                               % cert_path) from None
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {_normalised(name) for name in names.get_values_for_type(x509.DNSName)} | set(
        names.get_values_for_type(x509.IPAddress))


def names_host(cert_path, host):
    """Whether the certificate at cert_path names host (a DNS name or an IP address, in any spelling)."""
    return _normalised(host) in certificate_names(cert_path)


def _openssl(*args):
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], proc.stderr.strip()))
    return proc.stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=DEFAULT_DIR)
    parser.add_argument("--thing", default=DEFAULT_THING)
    parser.add_argument("--key-type", choices=sorted(KEY_TYPES), default=DEFAULT_KEY_TYPE,
                        help="for the keys this run creates; existing files are kept")
    parser.add_argument("--broker-host", action="append", default=[],
                        help="a LAN host name or IP the broker certificate must name (repeatable)")
    parser.add_argument("--household", help="the household file (cloud/household.py; default household.json)")
    args = parser.parse_args(argv)
    from cloud import household  # it reads this module's identity names

    try:
        things = household.load(args.household or household.PATH)["things"]
    except household.HouseholdError as error:
        print("pki: %s" % error, file=sys.stderr)
        return 2
    pki = Pki(args.dir, args.thing, args.key_type, args.broker_host).ensure()
    issued = pki.household(entry["thing"] for entry in things)
    print("PKI in %s (%s keys, device CN %s, publisher CN %s)"
          % (pki.dir, pki.key_type, pki.thing, pki.publisher_cn))
    for thing, name in issued.items():
        print("  %s: %s.crt, %s.key (+ .der)" % (thing, name, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
