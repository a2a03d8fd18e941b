"""Replay tool and the replay exclusion of the live rule, against moto's server."""

import json
import re
from datetime import datetime, timezone

import boto3
import pytest

from cloud.aws import deploy, replay
from cloud.aws.waiting import Waiting
from cloud.topology import DETAIL_TYPE, SOURCE, TOPOLOGY
from tests.cloud.envs import REGION, env_for, run, stubbed_env


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
    assert capsys.readouterr().err.startswith("replay: refused: --rules:")


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
    assert status == 2 and capsys.readouterr().err == (
        "replay: refused: --from (FROM=): time 'yesterday': expected ISO-8601 or Unix seconds\n")
    with pytest.raises(replay.ReplayRefused, match="--from must be before --to"):
        replay.replay(None, None, replay.parse_time("2"), replay.parse_time("1"), ["replays"], "r")


def test_a_replay_starts_with_filter_arns_and_is_followed_to_completion(aws, tmp_path, capsys):
    run(deploy.apply, env_for(aws, tmp_path))
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


def replay_args(aws, *extra):
    return [
        "--from",
        "2026-11-01T00:00:00Z",
        "--to",
        "1795730000",
        "--endpoint-url",
        aws,
        "--region",
        REGION,
        *extra,
    ]


def test_default_names_are_unique_even_within_one_second(aws, tmp_path, capsys):
    same_second = lambda: 1795730000.25  # noqa: E731
    names = {replay.unique_name(same_second) for _ in range(50)}
    assert len(names) == 50
    assert all(re.fullmatch(r"replay-20261126T215320Z-[0-9a-f]{6}", name) for name in names)

    run(deploy.apply, env_for(aws, tmp_path))
    # Back to back, as a script would: the old per-second name collided (ResourceAlreadyExistsException).
    assert replay.main(replay_args(aws, "--rules", "replays")) == 0
    assert replay.main(replay_args(aws, "--rules", "replays")) == 0
    assert len(boto3.client("events").list_replays()["Replays"]) == 2
    out = capsys.readouterr().out
    assert "archive feedmyfurbabies-ledger: 0 events, 0 bytes, state ENABLED" in out


def test_rules_that_do_not_exist_are_refused_before_anything_starts(aws, tmp_path, capsys):
    run(deploy.apply, env_for(aws, tmp_path))
    assert replay.main(replay_args(aws, "--rules", "replays,replay")) == 2
    assert capsys.readouterr().err.strip() == (
        "replay: refused: --rules: no rule 'replay' on bus feedmyfurbabies")
    assert boto3.client("events").list_replays()["Replays"] == []


def test_a_window_ending_within_the_ingestion_lag_is_warned_about():
    now = lambda: 1795730000.0  # noqa: E731
    recent = datetime.fromtimestamp(now() - 120, tz=timezone.utc)
    assert replay.ingestion_lag_warning(recent, now).startswith(
        "warning: --to 2026-11-26T21:51:20+00:00 is less than 10 minutes ago: EventBridge may not have"
    )
    assert replay.ingestion_lag_warning(datetime.fromtimestamp(now() - 601, tz=timezone.utc), now) is None


def test_ctrl_c_cancels_the_replay_and_waits_until_it_stopped(fake_time, tmp_path):
    """moto's replays end at once, so a running one is stubbed; Ctrl-C arrives during the poll's sleep."""
    env, stubs = stubbed_env(fake_time, tmp_path, events="events")
    events = stubs["events"]
    events.add_response(
        "describe_rule", {"Name": "replays"}, {"Name": "replays", "EventBusName": "feedmyfurbabies"}
    )
    events.add_response(
        "describe_archive", {"ArchiveName": "feedmyfurbabies-ledger", "EventCount": 42, "SizeBytes": 9000}
    )
    events.add_response("start_replay", {"State": "STARTING"})
    events.add_response("describe_replay", {"State": "RUNNING"}, {"ReplayName": "r1"})
    events.add_response("cancel_replay", {"State": "CANCELLING"}, {"ReplayName": "r1"})
    events.add_response("describe_replay", {"State": "CANCELLING"}, {"ReplayName": "r1"})
    events.add_response("describe_replay", {"State": "CANCELLED"}, {"ReplayName": "r1"})

    def ctrl_c(seconds):
        raise KeyboardInterrupt

    out, err = [], []
    status = replay.replay(
        env.events,
        env.arns,
        replay.parse_time("2026-11-01T00:00:00Z"),
        replay.parse_time("2026-11-02T00:00:00Z"),
        ["replays"],
        "r1",
        out=out.append,
        err=err.append,
        waiting=Waiting(out=out.append, sleep=fake_time.sleep, clock=fake_time.clock),
        sleep=ctrl_c,
        clock=fake_time.clock,
    )
    events.assert_no_pending_responses()
    assert status == replay.INTERRUPTED
    assert out[0] == "archive feedmyfurbabies-ledger: 42 events, 9000 bytes, state ?"
    assert out[2] == "r1: RUNNING, poll 1, 0 s"
    assert err == ["interrupted: cancelling replay r1", "replay r1 CANCELLED"]
    assert fake_time.slept == [1]  # one logged wait for the cancellation, on the injected clock


def test_ctrl_c_just_after_the_replay_ended_reports_how_it_ended(fake_time, tmp_path):
    """AWS refuses to cancel a replay that has ended (IllegalStatusException); moto cancels it anyway."""
    env, stubs = stubbed_env(fake_time, tmp_path, events="events")
    stubs["events"].add_client_error("cancel_replay", "IllegalStatusException", "not in a valid state", 400)
    stubs["events"].add_response("describe_replay", {"State": "COMPLETED"}, {"ReplayName": "ended"})
    waiting = Waiting(out=lambda line: None, sleep=fake_time.sleep, clock=fake_time.clock)
    assert replay.cancel(env.events, "ended", waiting)["State"] == "COMPLETED"
    assert fake_time.slept == []
