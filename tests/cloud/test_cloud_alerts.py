"""Alerts on AWS (moto's server, the strict layer on): `make deploy` creates the alerts rule, function,
schedule, incidents table, SNS topic and the household's subscriptions; the handler, on the deployed
table and topic, publishes one SNS message per incident kind; the strict SNS and schedule rules."""

import argparse
import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

from cloud import household
from cloud.aws import deploy
from cloud.handlers import alerts, projector
from cloud.hub.events import envelope
from cloud.topology import SOURCE
from rigs.hubdata import T0, result_event, status_event
from tests.cloud.envs import REGION, env_for, run
from web import incidents as web_incidents

HOME = household.validate(
    {
        "things": [{"thing": "cat-feeder", "name": "Kitchen"}],
        "alerts": {"offline_after_s": 600, "email": "cats@example.org", "sms": "+447700900123"},
    }
)


def missed_slot(at):
    detail = {"thing": "cat-feeder", "status": "missed", "slot": "07:00"}
    entry = {"Source": SOURCE, "DetailType": "ScheduleSlot", "Detail": json.dumps(detail)}
    return envelope(dict(entry, Time=datetime.fromtimestamp(at, tz=timezone.utc)))


def client(aws, service):
    return boto3.client(service, endpoint_url=aws, region_name=REGION)


def test_deploy_creates_the_alerts_rule_function_schedule_topic_and_subscriptions(aws, tmp_path):
    topology = household.topology(HOME)
    run(deploy.apply, env_for(aws, tmp_path, topology))
    assert (
        run(deploy.plan, env_for(aws, tmp_path, topology))[-1]
        == "Nothing to change: 68 resources up to date."
    )
    events = client(aws, "events")
    rule = events.describe_rule(Name="alerts", EventBusName="feedmyfurbabies")
    assert json.loads(rule["EventPattern"])["detail-type"] == [{"anything-but": ["FeedRequested"]}]
    (target,) = events.list_targets_by_rule(Rule="alerts", EventBusName="feedmyfurbabies")["Targets"]
    assert target["Arn"].endswith(":function:feedmyfurbabies-alerts")
    assert target["DeadLetterConfig"]["Arn"].endswith(":feedmyfurbabies-alerts-failed")
    schedule = events.describe_rule(Name="feedmyfurbabies-alerts-check")
    assert schedule["ScheduleExpression"] == "rate(1 minute)" and schedule["EventBusName"] == "default"
    (tick,) = events.list_targets_by_rule(Rule="feedmyfurbabies-alerts-check")["Targets"]
    assert json.loads(tick["Input"]) == {"check": True} and tick["Arn"] == target["Arn"]
    function = client(aws, "lambda").get_function(FunctionName="feedmyfurbabies-alerts")["Configuration"]
    variables = function["Environment"]["Variables"]
    assert variables["ALERTS_TOPIC_ARN"].endswith(":sns:%s:123456789012:feedmyfurbabies-alerts" % REGION)
    assert variables["INCIDENTS_TABLE"] == "feedmyfurbabies-incidents"
    assert json.loads(variables["ALERTS"])["names"] == {"cat-feeder": "Kitchen"}
    assert "cats@example.org" not in json.dumps(variables)
    sns = client(aws, "sns")
    subscribed = sns.list_subscriptions_by_topic(TopicArn=variables["ALERTS_TOPIC_ARN"])["Subscriptions"]
    assert sorted((s["Protocol"], s["Endpoint"]) for s in subscribed) == [
        ("email", "cats@example.org"),
        ("sms", "+447700900123"),
    ]


def test_the_handler_publishes_one_sns_message_per_incident_kind(aws, tmp_path):
    topology = household.topology(HOME)
    run(deploy.apply, env_for(aws, tmp_path, topology))
    sns, sqs = client(aws, "sns"), client(aws, "sqs")
    topic = sns.list_topics()["Topics"][0]["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"}
    )
    store = projector.DynamoStore(client(aws, "dynamodb"), "feedmyfurbabies-incidents")
    environ = topology["functions"]["alerts"]["environment"]
    context = alerts.Context(alerts.Alerting(store, alerts.SnsNotifier(sns, topic)), environ)
    alerts.handle(status_event("online", T0), context)
    alerts.handle(status_event("offline", T0 + 10), context)
    for seq, status in enumerate(("interrupted", "capped", "capped", "rejected"), start=1):
        alerts.handle(result_event(seq, "p%d" % seq, status, T0 + 20 + seq, reason="why"), context)
    alerts.handle(missed_slot(T0 + 30), context)  # the schedule's (designed for; not yet a producer)
    alerts.handle(result_event(9, "p9", "dispensed", T0 + 40, ["left"]), context)  # 5-8 lost; resolves 4
    replayed = result_event(10, "p10", "interrupted", T0 + 50)
    replayed["replay-name"] = "r1"
    alerts.handle(replayed, context)  # projected, never sent
    alerts.handle({"check": True}, context)  # the schedule: offline for far more than 600 s by now

    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not batch:
            break
        messages += [json.loads(message["Body"]) for message in batch]
    sent = sorted(
        (m["MessageAttributes"]["kind"]["Value"], m["MessageAttributes"]["transition"]["Value"])
        for m in messages
    )
    assert sent == sorted(
        [
            ("interrupted", "opened"),
            ("capped", "opened"),
            ("rejected", "opened"),
            ("lost", "opened"),
            ("interrupted", "resolved"),
            ("capped", "resolved"),
            ("rejected", "resolved"),
            ("missed", "opened"),
            ("missed", "resolved"),
            ("lost", "resolved"),  # quiet for an hour by now
            ("offline", "opened"),
        ]
    )
    offline = next(m for m in messages if m["MessageAttributes"]["kind"]["Value"] == "offline")
    assert offline["Subject"] == "Kitchen is offline" and offline["Message"].startswith(
        "Kitchen: offline since"
    )

    # What the page shows on AWS (web/incidents.py): the table's incidents, and the DLQ when it holds any.
    failed = sqs.get_queue_url(QueueName="feedmyfurbabies-alerts-failed")["QueueUrl"]
    sqs.send_message(QueueUrl=failed, MessageBody="{}")
    report = web_incidents.read(argparse.Namespace(aws=True, region=REGION, endpoint_url=aws, profile=None))
    assert sorted(i["kind"] for i in report["open"]) == ["interrupted", "offline"]  # the replayed one too
    assert {i["kind"] for i in report["resolved"]} == {"interrupted", "capped", "rejected", "missed", "lost"}
    assert report["dead_letters"] == [{"queue": "feedmyfurbabies-alerts-failed", "messages": 1}]


def test_what_sns_and_a_schedule_refuse_on_aws(aws):
    sns, events = client(aws, "sns"), client(aws, "events")
    topic = sns.create_topic(Name="t")["TopicArn"]
    for subject in ("x" * 100, "two\nlines"):
        with pytest.raises(ClientError, match="strict AWS layer"):
            sns.publish(TopicArn=topic, Subject=subject, Message="m")
    sns.publish(TopicArn=topic, Subject="x" * 99, Message="m")
    with pytest.raises(ClientError, match="not an E.164"):
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="07700900123")
    with pytest.raises(ClientError, match="not an e-mail"):
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="cats")
    events.create_event_bus(Name="b")
    with pytest.raises(ClientError, match="only on the default event bus"):
        events.put_rule(Name="r", EventBusName="b", ScheduleExpression="rate(1 minute)")
    with pytest.raises(ClientError, match="singular exactly when N is 1"):
        events.put_rule(Name="r", ScheduleExpression="rate(1 minutes)")
    events.put_rule(Name="r", ScheduleExpression="rate(5 minutes)")


class FailingSns:
    def __init__(self):
        self.failures = 1
        self.published = []

    def publish(self, **message):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SNS unreachable")
        self.published.append(message["Subject"])


def test_a_publish_that_fails_leaves_the_incident_unopened_and_the_retry_publishes_it(tmp_path):
    from cloud.hub.projection import SqliteStore

    sns = FailingSns()
    context = alerts.Context(
        alerts.Alerting(SqliteStore(str(tmp_path / "i.sqlite3")), alerts.SnsNotifier(sns, "arn:topic")),
        household.topology(HOME)["functions"]["alerts"]["environment"],
    )
    event = result_event(1, "p1", "interrupted", T0, ["left"])
    with pytest.raises(ConnectionError):
        alerts.handle(event, context)  # Lambda retries the event
    assert alerts.incidents(context.store.rows()) == ([], [])
    alerts.handle(event, context)
    assert sns.published == ["Kitchen: a dispense was interrupted"]
