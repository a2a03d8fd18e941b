"""The self-hosted hub's broker certificate can name the hub's LAN host name and IP, so a real board on
the home network verifies it (cloud/hub/pki.py --broker-host, cloud.hub run --host-name)."""

import subprocess

from cloud.hub.pki import Pki


def subject_alt_names(pki):
    text = subprocess.run(
        ["openssl", "x509", "-in", pki.cert("broker"), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return text.splitlines()[-1].strip()


def test_the_broker_certificate_names_the_lan_hosts_and_is_reissued_only_when_they_change(tmp_path):
    plain = Pki(str(tmp_path), "cat-feeder", "ec").ensure()
    assert subject_alt_names(plain) == "DNS:localhost, IP Address:127.0.0.1"
    lan = Pki(str(tmp_path), "cat-feeder", "ec", broker_hosts=["feeder-hub.lan", "192.168.1.20"]).ensure()
    assert (
        subject_alt_names(lan)
        == "DNS:localhost, IP Address:127.0.0.1, DNS:feeder-hub.lan, IP Address:192.168.1.20"
    )
    issued = (tmp_path / "broker.crt").read_bytes()
    Pki(str(tmp_path), "cat-feeder", "ec", broker_hosts=["192.168.1.20"]).ensure()  # already named
    assert (tmp_path / "broker.crt").read_bytes() == issued
