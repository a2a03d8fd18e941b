"""A moto server for the cloud suites (tools/moto_server.py): started once per run on a free
127.0.0.1 port, reset before each test, stopped at the end. AWS credentials are fake and only
ever reach that server."""

import pytest

from tests import strict_aws
from tools.moto_server import MotoServer, fake_credentials

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def strict_aws_layer(monkeypatch):
    """Every botocore client a cloud test creates goes through tests/strict_aws (AWS's documented rules)."""
    monkeypatch.setenv("BOTOCORE_EXPERIMENTAL__PLUGINS", strict_aws.PLUGIN)


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """Point every boto3 client at a freshly reset moto server; returns its URL."""
    moto_server.reset()
    for variable, value in fake_credentials(moto_server.url, REGION).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server.url


class FakeTime:
    """Clock and sleep for cloud.waiting.Waiting: sleeping advances the clock and is recorded, instantly."""

    def __init__(self):
        self.now, self.slept = 1000.0, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()
