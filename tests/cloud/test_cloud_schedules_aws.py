"""Schedules on AWS against moto's server (with tests/strict_aws's Device Shadow rules): the deployed
`schedules` rule (live ScheduleChanged only) and topic rule on the shadow's update/accepted, the schedules
function writing the named shadow `schedule` through iot-data (newest version only, never on replay), a
device's report through the topic rule's SELECT and the states function as a ScheduleReported, and
`make schedule --aws` putting ScheduleChanged on the bus."""

import copy
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from cloud import schedule_tool
from cloud.aws import deploy
from cloud.handlers import schedules, states
from cloud.handlers.projector import DynamoStore, project
from cloud.topology import SOURCE, TOPOLOGY, local_environment, shadow_topic
from tests.cloud.envs import env_for, run
from tests.cloud.test_cloud_history_deploy import RecordedEvents
from tests.strict_aws.iot import rule_output

THING = "kitchen"
SCHEDULE = {
    "timezone": "Australia/Sydney",
    "paused": False,
    "skip": [],
    "grace_min": 30,
    "slots": [{"id": 0, "at": "07:30", "event": "LONG", "portions": 1, "days": ["mon", "fri"]}],
}


def changed(version, paused=False, **extra):
    detail = {
        "thing": THING,
        "version": version,
        "action": "set",
        "origin": "cli",
        "schedule": dict(copy.deepcopy(SCHEDULE), paused=paused),
        "tz": "AEST-10AEDT,M10.1.0,M4.1.0/3",
    }
    return {
        "version": "0",
        "id": "e%d" % version,
        "source": SOURCE,
        "detail-type": "ScheduleChanged",
        "time": "2026-12-05T07:00:00Z",
        "detail": detail,
        **extra,
    }


@pytest.fixture
def context(aws):
    boto3.client("iot").create_thing(thingName=THING)
    environ = local_environment("schedules")
    return schedules.Context(boto3.client("iot-data"), environ, log=lambda line: None)


def shadow(thing=THING):
    answer = boto3.client("iot-data").get_thing_shadow(thingName=thing, shadowName="schedule")
    return json.loads(answer["payload"].read())


def test_the_function_writes_the_newest_desired_and_never_an_older_one(context):
    assert schedules.handle(changed(2), context)["status"] == "desired"
    document = shadow()
    assert document["state"]["desired"] == {
        "version": 2,
        "tz": "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "paused": False,
        "skip": [],
        "grace_s": 1800,
        "slots": [{"id": 0, "at": 450, "event": "LONG", "portions": 1, "days": 17}],
    }
    assert schedules.handle(changed(1, paused=True), context)["status"] == "stale"
    assert shadow()["state"]["desired"]["version"] == 2 and shadow()["version"] == document["version"]
    assert schedules.handle(changed(3, paused=True), context)["status"] == "desired"
    assert shadow()["state"]["desired"]["paused"] is True
    # Replayed, or a malformed one: refused, nothing written.
    assert schedules.handle(changed(4, **{"replay-name": "r1"}), context)["status"] == "rejected"
    bad = changed(5)
    bad["detail"]["schedule"]["slots"][0]["at"] = "7h30"
    assert "slots[0].at" in schedules.handle(bad, context)["reason"]
    assert shadow()["state"]["desired"]["version"] == 3


def test_a_write_racing_another_is_decided_again(context):
    """The function passes the shadow's document version: a write in between makes it read again."""
    assert schedules.handle(changed(1), context)["status"] == "desired"
    real = context.shadows
    moved = []

    class Racing:
        exceptions = real.exceptions

        def get_thing_shadow(self, **kwargs):
            answer = real.get_thing_shadow(**kwargs)
            if not moved:  # someone else writes version 5 after our read
                moved.append(schedules.handle(changed(5), schedules.Context(real, {"EVENT_SOURCE": SOURCE})))
            return answer

        def update_thing_shadow(self, **kwargs):
            return real.update_thing_shadow(**kwargs)

    context.shadows = Racing()
    assert schedules.handle(changed(2), context)["status"] == "stale"
    assert shadow()["state"]["desired"]["version"] == 5


def test_the_strict_layer_refuses_what_the_shadow_service_refuses(context):
    client = boto3.client("iot-data")
    for payload, said in (
        (json.dumps({"desired": {"version": 1}}), "Missing required node: state"),
        (json.dumps({"state": {"desired": [1]}}), "Desired node must be an object"),
        (json.dumps({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}), "nesting"),
        (json.dumps({"state": {"desired": {"blob": "x" * 8200}}}), "exceeds the maximum size"),
    ):
        with pytest.raises(ClientError, match=said):
            client.update_thing_shadow(thingName=THING, shadowName="schedule", payload=payload)
    with pytest.raises(ClientError, match="shadowName"):
        client.update_thing_shadow(thingName=THING, shadowName="sched ule", payload='{"state":{}}')


def test_deployed_rules_and_a_report_through_the_topic_rule(aws, tmp_path):
    run(deploy.apply, env_for(aws, tmp_path))
    events = boto3.client("events")
    pattern = json.loads(
        events.describe_rule(Name="schedules", EventBusName="feedmyfurbabies")["EventPattern"]
    )
    assert pattern == {
        "source": [SOURCE],
        "detail-type": ["ScheduleChanged"],
        "replay-name": [{"exists": False}],
    }
    (target,) = events.list_targets_by_rule(Rule="schedules", EventBusName="feedmyfurbabies")["Targets"]
    assert target["Arn"].endswith(":function:feedmyfurbabies-schedules")
    rule = boto3.client("iot").get_topic_rule(ruleName="cat_feeder_schedule_reported")["rule"]
    assert rule["actions"][0]["lambda"]["functionArn"].endswith(":function:feedmyfurbabies-states")
    # What the shadow service publishes on update/accepted after the device's report.
    accepted = {
        "state": {"reported": {"version": 3, "clock": "ntp"}},
        "metadata": {"reported": {"version": {"timestamp": 1796460000}}},
        "version": 12,
        "timestamp": 1796460000,
    }
    topic = shadow_topic(THING, "update/accepted")
    message = rule_output(rule["sql"], topic, accepted)
    assert message == {
        "v": 1,
        "type": "schedule",
        "thing": THING,
        "at": 1796460000,
        "version": 3,
        "clock": "ntp",
    }
    # The cloud's own desired write is accepted too, with no `reported`: the rule does not run.
    assert (
        rule_output(
            rule["sql"], topic, {"state": {"desired": {"version": 4}}, "version": 13, "timestamp": 1796460001}
        )
        is None
    )
    recorded = RecordedEvents()
    answer = states.handle(
        message, states.Context(recorded, local_environment("states"), log=lambda line: None)
    )
    assert answer == {"status": "put", "detail_type": "ScheduleReported", "thing": THING}
    (entry,) = recorded.entries
    assert entry["Source"] == "com.feedmyfurbabies.device" and json.loads(entry["Detail"])["version"] == 3
    wrong = dict(message, clock="sundial")
    assert (
        states.handle(wrong, states.Context(recorded, local_environment("states"), log=lambda line: None))[
            "status"
        ]
        == "rejected"
    )


def test_make_schedule_aws_puts_the_next_version_on_the_bus(aws, tmp_path, capsys):
    # The bus and the history table as deployed (moto's server cannot run the deployed functions the
    # bus's rules would invoke).
    boto3.client("events").create_event_bus(Name=TOPOLOGY["bus"]["name"])
    boto3.client("dynamodb").create_table(
        TableName=TOPOLOGY["table"]["name"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
    )
    household = tmp_path / "household.json"
    household.write_text(json.dumps({"timezone": "Europe/London", "things": [{"thing": THING}]}))
    store = DynamoStore(boto3.client("dynamodb"), TOPOLOGY["table"]["name"])
    project(store, changed(4))  # the projection knows version 4
    argv = [
        "set",
        "--slot",
        "1",
        "--at",
        "19:00",
        "--event",
        "SINGLE",
        "--thing",
        THING,
        "--aws",
        "--household",
        str(household),
        "--endpoint-url",
        aws,
        "--region",
        "eu-west-1",
    ]
    assert schedule_tool.main(argv) == 0
    assert "recorded as version 5 for kitchen" in capsys.readouterr().out
    # What the bus got: read back through a rule of the test's own onto a queue.
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    events.put_rule(
        Name="seen",
        EventBusName="feedmyfurbabies",
        EventPattern=json.dumps({"detail-type": ["ScheduleChanged"]}),
    )
    events.put_targets(Rule="seen", EventBusName="feedmyfurbabies", Targets=[{"Id": "q", "Arn": arn}])
    assert schedule_tool.main(["pause", *argv[7:]]) == 0
    (body,) = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    ]
    assert body["source"] == SOURCE and body["detail"]["version"] == 5 and body["detail"]["action"] == "pause"
    assert body["detail"]["schedule"]["timezone"] == "Europe/London"
    assert body["detail"]["tz"] == "GMT0BST,M3.5.0/1,M10.5.0"
    # A bad one: one line, nothing on the bus.
    assert schedule_tool.main(["set", "--slot", "2", "--at", "08:00", "--event", "LONG", *argv[7:]]) == 1
    assert "schedule_min_gap_min" in capsys.readouterr().err
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
