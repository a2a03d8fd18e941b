"""Fixtures shared by the board tests (tests/tools/, tests/hil/), and the stricter AWS (tests/strict_aws)
that every boto3 client of every test goes through."""

import os
import subprocess

import pytest
from hypothesis import HealthCheck, settings

from tests import strict_aws

os.environ["BOTOCORE_EXPERIMENTAL__PLUGINS"] = strict_aws.PLUGIN
# `make test` runs the files over pytest-xdist workers: each stages the board's flash in its own folder.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["BOARD_STAGE"] = os.path.join(_ROOT, "build", "board-" + os.environ["PYTEST_XDIST_WORKER"])

# The fuzzers' properties (tests/fuzz/, tests/integration/test_fuzz_web.py): `make test` runs a fixed, small
# number of examples per property, derandomized so CI is reproducible; `make fuzz` (HYPOTHESIS_PROFILE=fuzz)
# many more, at random. No example database: a failure prints the example to reproduce it.
_FUZZ_COMMON = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=60, derandomize=True, **_FUZZ_COMMON)
settings.register_profile("fuzz", max_examples=20000, **_FUZZ_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
