"""Fixtures shared by the board tests (tests/tools/, tests/hil/)."""

import subprocess

import pytest


@pytest.fixture
def certs(tmp_path):
    """A folder as `make flash CERTS=` takes it: a self-signed device certificate, its key and a CA (PEM)."""
    folder = tmp_path / "certs"
    folder.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(folder / "device.key.pem"), "-out", str(folder / "device.crt.pem"),
         "-subj", "/CN=cat-feeder", "-days", "1"],
        check=True, capture_output=True,
    )
    (folder / "ca.pem").write_text((folder / "device.crt.pem").read_text())
    return str(folder)
