"""The development PKI's key types: RSA-2048 by default, as AWS IoT's CreateKeysAndCertificate issues
(so every device test here runs the board's real TLS path), EC P-256 when asked."""

import subprocess

from cloud.hub.pki import Pki


def key_description(path):
    return subprocess.run(
        ["openssl", "pkey", "-in", path, "-noout", "-text"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]


def test_the_device_tests_run_with_rsa_2048_keys(pki):
    for name in ("device", "ca", "broker"):
        assert key_description(pki.key(name)) == "Private-Key: (2048 bit, 2 primes)", name


def test_ec_p256_stays_an_option(tmp_path):
    pki = Pki(str(tmp_path), key_type="ec").ensure()
    assert key_description(pki.key("device")) == "Private-Key: (256 bit)"
