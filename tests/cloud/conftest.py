"""A moto server for the cloud suites: started once per run on a free 127.0.0.1 port, reset before
each test, stopped at the end. AWS credentials are fake and only ever reach that server."""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
REGION = "eu-west-1"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    server = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start on %s" % url) from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def aws(moto_server, monkeypatch):
    """Point every boto3 client at a freshly reset moto server; returns its URL."""
    urllib.request.urlopen(urllib.request.Request(moto_server + "/moto-api/reset", method="POST")).close()
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_server,
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server
