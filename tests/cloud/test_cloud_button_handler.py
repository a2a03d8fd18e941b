"""Button handler invoked directly with the payloads its triggers send, putting events on moto's bus.

The bus here routes to an SQS queue (moto cannot deliver to Lambda), so the test reads back exactly
what EventBridge received.
"""

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from cloud.aws.packaging import handler_zip
from cloud.handlers import button
from cloud.topology import DETAIL_TYPE, SOURCE, TOPOLOGY

ONE_CLICK = {
    "deviceInfo": {"deviceId": "G030PM0123456789", "type": "button", "remainingLife": 99.9},
    "deviceEvent": {"buttonClicked": {"clickType": "DOUBLE", "reportedTime": "2026-11-26T21:03:11.512Z"}},
    "placementInfo": {"projectName": "cat", "placementName": "kitchen", "attributes": {}, "devices": {}},
}
# What the topic rule hands over for a message on cat-feeder/cat-feeder/button (`thing` added by the rule).
TOPIC_PRESS = {"v": 1, "event": "LONG", "at": 1795730000, "seq": 17, "thing": "cat-feeder"}


BUS = {"EVENT_BUS_NAME": "button-test-bus", "EVENT_SOURCE": SOURCE, "EVENT_DETAIL_TYPE": DETAIL_TYPE}


@pytest.fixture
def bus(aws):
    """A bus whose every com.feedmyfurbabies event lands in a queue; returns a reader of that queue."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="button-test-bus")
    queue_url = sqs.create_queue(QueueName="button-test-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="all", EventBusName="button-test-bus", EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="all", EventBusName="button-test-bus", Targets=[{"Id": "q", "Arn": queue_arn}])
    return lambda: [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    ]


@pytest.fixture
def context(bus):
    """The handler's Context for that bus, as the Lambda entry point builds it from its environment."""
    return button.Context(boto3.client("events"), BUS)


def test_one_click_press_becomes_one_well_formed_event(bus, context):
    result = button.handle(ONE_CLICK, context)
    (event,) = bus()
    assert event["source"] == SOURCE and event["detail-type"] == DETAIL_TYPE
    assert event["detail"] == {
        "v": 1,
        "press_id": result["press_id"],
        "event": "DOUBLE",
        "pressed_at": 1795726991.512,
        "origin": "1-click",
        "button": "G030PM0123456789",
    }
    assert result["press_id"].startswith("press-") and len(result["press_id"]) == 22


def test_topic_press_becomes_one_event_with_the_thing_as_button(bus, context):
    result = button.handle(TOPIC_PRESS, context)
    (event,) = bus()
    assert event["detail"]["event"] == "LONG"
    assert event["detail"]["pressed_at"] == 1795730000
    assert event["detail"]["button"] == "cat-feeder" and event["detail"]["origin"] == "button"
    assert event["detail"]["press_id"] == result["press_id"]


def test_press_id_is_stable_for_a_redelivered_press_and_distinct_for_another():
    first = button.parse_press(dict(TOPIC_PRESS))["press_id"]
    assert button.parse_press(dict(TOPIC_PRESS))["press_id"] == first
    assert button.parse_press(dict(TOPIC_PRESS, seq=18))["press_id"] != first
    assert button.parse_press(dict(TOPIC_PRESS, thing="other-feeder"))["press_id"] != first
    assert (
        button.parse_press(ONE_CLICK)["press_id"]
        == button.parse_press(json.loads(json.dumps(ONE_CLICK)))["press_id"]
    )


VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "press_id.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["canonical"] for v in VECTORS])
def test_press_id_is_the_shared_vectors_id(vector):
    """The same vectors pin firmware/press.py on both interpreters (tests/firmware/test_press.py)."""
    press = {"thing": vector["thing"], **json.loads(vector["message"])}
    assert button.parse_press(press)["press_id"] == vector["id"]


def test_packaged_handler_mints_ids_from_its_own_zip(tmp_path):
    """The deployed zip carries firmware/press.py: the handler imports it from the zip alone (-E: no
    PYTHONPATH; the repo is not on the path, as in Lambda, where the zip root is)."""
    shared = TOPOLOGY["functions"]["button"]["shared"]
    with zipfile.ZipFile(io.BytesIO(handler_zip("button", shared))) as archive:
        assert sorted(archive.namelist()) == ["button.py", "cloud/handlers/bounds.py", "firmware/press.py"]
        archive.extractall(tmp_path)
    vector = VECTORS[0]
    code = "import button, json, sys; print(button.parse_press(json.loads(sys.argv[1]))['press_id'])"
    press = json.dumps({"thing": vector["thing"], **json.loads(vector["message"])})
    minted = subprocess.run([sys.executable, "-E", "-s", "-c", code, press], cwd=tmp_path, check=True,
                            capture_output=True, text=True).stdout.strip()
    assert minted == vector["id"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("SINGLE", "press: expected a JSON object"),
        ({"hello": 1}, "neither an IoT 1-Click payload"),
        ({"deviceEvent": {}}, "deviceEvent.buttonClicked: missing"),
        (
            {"deviceEvent": {"buttonClicked": {"clickType": "TRIPLE", "reportedTime": "x"}}},
            "deviceEvent.buttonClicked.clickType: expected SINGLE, DOUBLE or LONG, got 'TRIPLE'",
        ),
        (
            {"deviceEvent": {"buttonClicked": {"clickType": "SINGLE", "reportedTime": "yesterday"}}},
            "reportedTime: expected ISO-8601 UTC",
        ),
        (dict(TOPIC_PRESS, v=2), "v: expected 1, got 2"),
        (dict(TOPIC_PRESS, at="now"), "at: wrong type str"),
        (dict(TOPIC_PRESS, at=1795730000.5), "at: wrong type float"),
        (dict(TOPIC_PRESS, seq=True), "seq: wrong type bool"),
        (dict(TOPIC_PRESS, seq=-1), "seq: expected 0..4294967295"),
        # Issue 25: a seq no device could send (it stores seq as an unsigned 32-bit number) was accepted.
        (dict(TOPIC_PRESS, seq=10**40), "seq: expected 0..4294967295"),
        (dict(TOPIC_PRESS, seq=2**32), "seq: expected 0..4294967295"),
        (dict(TOPIC_PRESS, thing="x" * 65), "thing: expected 1-64 characters"),
        (dict(TOPIC_PRESS, thing="a/b"), "thing: expected 1-64 characters"),
        # Issue 16: a huge `at` raised OverflowError (retried, then parked) instead of being rejected.
        (dict(TOPIC_PRESS, at=10**20), "at: expected Unix seconds 1..4294967295"),
        (dict(TOPIC_PRESS, at=2**32), "at: expected Unix seconds 1..4294967295"),
        (
            {"deviceEvent": {"buttonClicked": {"clickType": "SINGLE", "reportedTime": "2300-01-01T00:00Z"}}},
            "reportedTime: expected 1970 to 2106, got '2300-01-01T00:00Z'",
        ),
        ({k: v for k, v in TOPIC_PRESS.items() if k != "event"}, "event: missing"),
    ],
)
def test_invalid_input_is_logged_and_returned_never_raised_and_puts_nothing(
    bus, context, capsys, payload, message
):
    # Raising would make Lambda retry the same invalid press twice more for nothing.
    result = button.handle(payload, context)
    assert result["status"] == "rejected" and message in result["reason"]
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"outcome": "rejected", "reason": result["reason"]}
    with pytest.raises(button.InvalidPress, match=re.escape(message)):
        button.parse_press(payload)
    assert bus() == []


def entry(detail):
    return {"EventBusName": "button-test-bus", "Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": detail}


class Spy:
    """Records each PutEvents batch, passing it to the real (moto) client."""

    def __init__(self, client):
        self.client, self.batches = client, []

    def put_events(self, Entries):  # noqa: N803 (boto3's parameter name)
        self.batches.append([e["Detail"] for e in Entries])
        return self.client.put_events(Entries=Entries)


def test_an_entry_that_keeps_failing_is_retried_alone_then_raises(bus):
    backoffs = []
    spy = Spy(boto3.client("events"))
    # moto accepts the first entry and rejects the second (MalformedDetail), every time.
    with pytest.raises(
        button.PutEventsFailed, match="1 of 2 entries failed after 4 attempts: MalformedDetail"
    ):
        button.put_all(spy, [entry('{"n": 1}'), entry("not json")], sleep=backoffs.append)
    assert spy.batches == [['{"n": 1}', "not json"], ["not json"], ["not json"], ["not json"]]
    assert backoffs == [0.1, 0.2, 0.4]
    assert [e["detail"] for e in bus()] == [{"n": 1}]  # the good entry went out exactly once


class FlakyEvents:
    """Stub for the one case moto cannot produce: an entry that fails once, then succeeds."""

    def __init__(self):
        self.batches = []

    def put_events(self, Entries):  # noqa: N803
        self.batches.append([e["Detail"] for e in Entries])
        if len(self.batches) == 1:
            return {
                "FailedEntryCount": 1,
                "Entries": [
                    {"EventId": "1"},
                    {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"},
                ],
            }
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i + 2)} for i in range(len(Entries))]}


def test_a_partial_failure_resends_only_the_failed_entry():
    flaky = FlakyEvents()
    button.put_all(flaky, [entry("a"), entry("b")], sleep=lambda seconds: None)
    assert flaky.batches == [["a", "b"], ["b"]]
