"""A moto server for the cloud suites (tools/moto_server.py): started once per run on a free
127.0.0.1 port, reset before each test, stopped at the end. AWS credentials are fake and only
ever reach that server. dynalite (tests/strict_aws/dynalite.py) likewise, for the DynamoDB store tests."""

import boto3
import pytest

from tests.strict_aws.dynalite import Dynalite
from tools.moto_server import MotoServer, fake_credentials

REGION = "eu-west-1"


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


@pytest.fixture(scope="session")
def dynalite_server():
    server = Dynalite().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["moto", "dynalite"])
def dynamodb(request, aws, monkeypatch):
    """boto3.client("dynamodb") as the code makes it, on moto's server and then on dynalite, which applies
    DynamoDB's request validation: a store test taking this fixture runs on both."""
    if request.param == "dynalite":
        server = request.getfixturevalue("dynalite_server")
        server.reset()
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
    return boto3.client("dynamodb")


class FakeTime:
    """Clock and sleep for cloud.aws.waiting.Waiting: sleeping advances the clock, recorded, instantly."""

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
