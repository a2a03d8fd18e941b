"""The page against the AWS backend (moto's server): it reads the DynamoDB history the projector
writes, a press without a deployed stack gets a clear error, and no credential reaches the browser."""

import time

import boto3

from cloud.handlers.projector import DynamoStore, project
from cloud.topology import TOPOLOGY
from rigs.web import WebServer
from tests.cloud.conftest import REGION
from tests.integration.web_client import PageClient

ACCESS_KEY = "AKIAWEBPAGETESTKEY01"
SECRET_KEY = "web-page-test-secret-never-in-a-response"
TABLE = TOPOLOGY["table"]["name"]


def history_table(url, now):
    dynamodb = boto3.client("dynamodb", endpoint_url=url, region_name=REGION)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    store = DynamoStore(dynamodb, TABLE)
    press = {
        "press_id": "press-00000000000000aa",
        "event": "LONG",
        "pressed_at": now - 60,
        "button": "cat-feeder",
    }
    result = {
        "type": "result",
        "thing": "cat-feeder",
        "seq": 3,
        "id": press["press_id"],
        "status": "dispensed",
        "bowls": ["left", "right"],
        "at": now - 59,
    }
    status = {"type": "status", "thing": "cat-feeder", "status": "online", "at": now - 120}
    project(store, {"detail-type": "FeedRequested", "detail": press})
    project(store, {"detail-type": "FeedResult", "detail": result})
    project(store, {"detail-type": "DeviceStatus", "detail": status})


def test_the_page_on_aws_reads_the_history_and_keeps_credentials_server_side(aws, tmp_path):
    history_table(aws, int(time.time()))
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": SECRET_KEY,
    }
    server = WebServer(
        "--aws", "--endpoint-url", aws, "--region", REGION, env=env, log_path=str(tmp_path / "web.log")
    ).start()
    try:
        client = PageClient(server.url)
        seen = [client.open_page()[1]]
        for path in ("/api/state", "/api/health", "/api/history", "/api/presses/press-00000000000000aa"):
            status, headers, body = client.request("GET", path)
            assert status == 200, (path, body)
            seen.append(repr(headers).encode() + repr(body).encode())
        _, _, state = client.request("GET", "/api/state")
        (feeder,) = state["feeders"]  # no household file: the single feeder cat-feeder
        assert state["backend"] == "aws" and feeder["thing"] == "cat-feeder"
        assert feeder["device"]["status"] == "online"
        assert feeder["recent"][0]["outcome"] == "dispensed" and set(feeder["portions"]) == {"left", "right"}
        _, _, health = client.request("GET", "/api/health")
        assert (
            health["verify"] is None
            and "AWS" in health["verify_note"]
            and health["gaps"] == {"cat-feeder": "1-2"}
        )
        status, headers, body = client.request("GET", "/api/status")
        assert status == 404 and body["error"].startswith("no status on AWS: ")
        seen.append(repr(headers).encode() + repr(body).encode())
        status, headers, body = client.press("SINGLE")
        assert status == 502 and body["error"].startswith("The feeder service on AWS is not answering")
        assert "no cat feeder stack deployed" in body["detail"]
        seen.append(repr(headers).encode() + repr(body).encode())
        for text in seen:
            assert ACCESS_KEY.encode() not in text and SECRET_KEY.encode() not in text
    finally:
        server.stop()
