"""Replay tool and the replay exclusion of the live rule, against moto's server."""

import json

import boto3
import pytest

from cloud import deploy, replay
from cloud.awsenv import AwsEnv
from cloud.topology import DETAIL_TYPE, SOURCE, TOPOLOGY

REGION = "eu-west-1"


@pytest.mark.parametrize("rules", ["feeds", "replays,feeds", " feeds ", "", ","])
def test_the_live_rule_or_no_rule_is_refused_before_any_aws_call(rules, capsys):
    # No endpoint and no credentials: a refusal must not need AWS at all.
    status = replay.main(
        [
            "--from",
            "2026-11-01T00:00:00Z",
            "--to",
            "2026-11-02T00:00:00Z",
            "--rules",
            rules,
            "--endpoint-url",
            "http://127.0.0.1:9",
        ]
    )
    assert status == 2
    assert capsys.readouterr().err.startswith("refused: --rules:")


def test_bad_times_are_refused(capsys):
    status = replay.main(
        [
            "--from",
            "yesterday",
            "--to",
            "2026-11-02",
            "--rules",
            "replays",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ]
    )
    assert status == 2 and "time 'yesterday'" in capsys.readouterr().err
    with pytest.raises(replay.ReplayRefused, match="--from must be before --to"):
        replay.start(None, None, replay.parse_time("2"), replay.parse_time("1"), ["replays"], "r")


def test_a_replay_starts_with_filter_arns_and_is_followed_to_completion(aws, tmp_path, capsys):
    deploy.apply(
        deploy.DeployEnv(AwsEnv(region=REGION, endpoint_url=aws), out_dir=tmp_path), out=lambda line: None
    )
    status = replay.main(
        [
            "--from",
            "2026-11-01T00:00:00Z",
            "--to",
            "1795730000",
            "--rules",
            "replays",
            "--name",
            "ledger-check",
            "--endpoint-url",
            aws,
            "--region",
            REGION,
        ]
    )
    assert status == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("ledger-check: COMPLETED")
    described = boto3.client("events").describe_replay(ReplayName="ledger-check")
    assert described["Destination"]["FilterArns"] == [
        "arn:aws:events:%s:123456789012:rule/feedmyfurbabies/replays" % REGION
    ]
    assert described["EventSourceArn"].endswith(":archive/feedmyfurbabies-ledger")


def test_moto_evaluates_the_declared_patterns_so_replays_skip_the_live_rule(aws):
    """The declared feeds/replays patterns on a bus whose targets are queues (moto cannot invoke Lambda):
    a live press reaches only `feeds`, its replay only `replays`."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    bus = events.create_event_bus(Name="pattern-check")["EventBusArn"]
    archive = events.create_archive(
        ArchiveName="pattern-check",
        EventSourceArn=bus,
        EventPattern=json.dumps(TOPOLOGY["archive"]["event_pattern"]),
    )["ArchiveArn"]
    received = {}
    for rule in TOPOLOGY["rules"]:
        url = sqs.create_queue(QueueName="pattern-" + rule["name"])["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name=rule["name"], EventBusName="pattern-check", EventPattern=json.dumps(rule["event_pattern"])
        )
        events.put_targets(Rule=rule["name"], EventBusName="pattern-check", Targets=[{"Id": "q", "Arn": arn}])
        received[rule["name"]] = url
    detail = {"v": 1, "press_id": "press-0123456789abcdef", "event": "SINGLE", "pressed_at": 1795730000}
    events.put_events(
        Entries=[
            {
                "EventBusName": "pattern-check",
                "Source": SOURCE,
                "DetailType": DETAIL_TYPE,
                "Detail": json.dumps(detail),
            }
        ]
    )
    events.start_replay(
        ReplayName="pattern-replay",
        EventSourceArn=archive,
        EventStartTime=0,
        EventEndTime=4102444800,
        Destination={"Arn": bus},
    )

    def bodies(rule_name):
        messages = sqs.receive_message(QueueUrl=received[rule_name], MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]

    (live,) = bodies("feeds")
    assert "replay-name" not in live and live["detail"] == detail
    (replayed,) = bodies("replays")
    assert replayed["replay-name"] == "pattern-replay" and replayed["detail"] == detail
