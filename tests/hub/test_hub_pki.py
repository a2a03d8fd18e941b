"""The self-hosted hub's broker certificate can name the hub's LAN host name and IP, so a real board on
the home network verifies it (cloud/hub/pki.py --broker-host, cloud.hub run --host-name)."""

import subprocess

from cloud import household
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


def subject(certificate):
    return subprocess.run(["openssl", "x509", "-in", certificate, "-noout", "-subject"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_make_pki_issues_a_certificate_per_thing_of_the_household_and_refuses_a_bad_file(tmp_path, capsys):
    from cloud.hub import pki

    example = str(household.PATH.with_name("household.example.json"))
    assert pki.main(["--dir", str(tmp_path / "pki"), "--key-type", "ec", "--household", example]) == 0
    for thing in ("kitchen", "bedroom", "hall-button"):
        assert subject(str(tmp_path / "pki" / ("device-%s.crt" % thing))) == "subject=CN = " + thing
        assert (tmp_path / "pki" / ("device-%s.key.der" % thing)).stat().st_mode & 0o077 == 0
    assert "  hall-button: device-hall-button.crt, device-hall-button.key (+ .der)" in capsys.readouterr().out

    bad = tmp_path / "household.json"
    bad.write_text('{"things": [{"thing": "cloud-publisher"}]}')
    assert pki.main(["--dir", str(tmp_path / "other"), "--household", str(bad)]) == 2
    assert capsys.readouterr().err == (
        "pki: things[0].thing: 'cloud-publisher' is a name the cloud itself uses on the broker\n")
    assert not (tmp_path / "other").exists()  # nothing issued
