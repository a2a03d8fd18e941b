"""The page against the AWS backend (moto's server): it reads the DynamoDB history the projector
writes, per feeder of a household of two (an update over the air included), a press without a deployed
stack gets a clear error, a press for a thing the household does not feed another, and no credential
reaches the browser."""

import json
import time

import boto3

from cloud.handlers.projector import DynamoStore, project
from cloud.topology import TOPOLOGY
from rigs.hubdata import update_event
from rigs.web import WebServer
from tests.cloud.conftest import REGION
from tests.integration.web_client import PageClient

ACCESS_KEY = "AKIAWEBPAGETESTKEY01"
SECRET_KEY = "web-page-test-secret-never-in-a-response"
TABLE = TOPOLOGY["table"]["name"]
B = "feeder-b"
HOUSEHOLD = {"things": [{"thing": "cat-feeder", "name": "Kitchen"}, {"thing": B, "name": "Bedroom"}]}


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
    # Bedroom's own press, not answered yet.
    project(store, {"detail-type": "FeedRequested",
                    "detail": dict(press, press_id="press-00000000000000bb", event="SINGLE", button=B)})
    # Kitchen runs 1.5.0; Bedroom's update to it rolled back (the ledger's Update events, whoever wrote them).
    telemetry = {"type": "telemetry", "thing": "cat-feeder", "firmware": "1.5.0", "at": now - 30}
    project(store, {"detail-type": "DeviceTelemetry", "detail": telemetry})
    for kind, at, extra in (("UpdateOffered", now - 600, {"size": 67_584}), ("UpdateStarted", now - 590, {}),
                            ("UpdateRolledBack", now - 300, {"reason": "rolled back: running 1.4.0"})):
        project(store, update_event(kind, at, thing=B, **extra))


def test_the_page_on_aws_reads_the_history_and_keeps_credentials_server_side(aws, tmp_path):
    now = int(time.time())
    history_table(aws, now)
    household = tmp_path / "household.json"
    household.write_text(json.dumps(HOUSEHOLD))
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": SECRET_KEY,
    }
    server = WebServer(
        "--aws", "--endpoint-url", aws, "--region", REGION, "--household", household, env=env,
        log_path=str(tmp_path / "web.log")
    ).start()
    try:
        client = PageClient(server.url)
        seen = [client.open_page()[1]]
        for path in ("/api/state", "/api/health", "/api/history", "/api/presses/press-00000000000000aa"):
            status, headers, body = client.request("GET", path)
            assert status == 200, (path, body)
            seen.append(repr(headers).encode() + repr(body).encode())
        _, _, state = client.request("GET", "/api/state")
        kitchen, bedroom = state["feeders"]
        assert state["backend"] == "aws" and (kitchen["thing"], bedroom["thing"]) == ("cat-feeder", B)
        assert kitchen["device"]["status"] == "online" and bedroom["device"]["status"] == "unknown"
        assert kitchen["recent"][0]["outcome"] == "dispensed"
        assert set(kitchen["portions"]) == {"left", "right"}
        assert [p["press_id"] for p in bedroom["recent"]] == ["press-00000000000000bb"]
        assert (kitchen["device"]["firmware"], kitchen["update"]) == ("1.5.0", None)
        assert bedroom["device"]["firmware"] is None and bedroom["device"]["telemetry_at"] is None
        assert bedroom["update"] == {"job": "ota-1_5_0-1", "version": "1.5.0", "state": "rolled_back",
                                     "at": now - 300, "offered_at": now - 600, "size": 67_584,
                                     "reason": "rolled back: running 1.4.0"}
        _, _, health = client.request("GET", "/api/health")
        assert (
            health["verify"] is None
            and "AWS" in health["verify_note"]
            and health["gaps"] == {"cat-feeder": "1-2", B: "none"}  # B's row: its update
        )
        status, headers, body = client.request("GET", "/api/status")
        assert status == 404 and body["error"].startswith("no status on AWS: ")
        seen.append(repr(headers).encode() + repr(body).encode())
        status, _, body = client.press("SINGLE", thing="attic")
        assert status == 400
        assert body["error"] == 'thing: expected the feeder to feed, one of cat-feeder, feeder-b; got "attic"'
        status, headers, body = client.press("SINGLE", thing=B)
        assert status == 502 and body["error"].startswith("The feeder service on AWS is not answering")
        assert "no cat feeder stack deployed" in body["detail"]
        seen.append(repr(headers).encode() + repr(body).encode())
        for text in seen:
            assert ACCESS_KEY.encode() not in text and SECRET_KEY.encode() not in text
    finally:
        server.stop()
