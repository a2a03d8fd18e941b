"""AWS hydrate (cloud/hydrate.py) against moto's server: a new on-demand table, a rule for this
replay's events only, a replay whose FilterArns names only that rule, the rule removed afterwards;
and the projector writing only the hydrated table it is given."""

import time
from datetime import datetime, timezone

import boto3

from cloud import deploy, hydrate
from cloud.awsenv import AwsEnv
from cloud.handlers import projector
from cloud.iam import Arns
from cloud.topology import TOPOLOGY
from tests.cloud.envs import REGION, env_for, run
from tests.hub.hubdata import press_event
from tests.strict_aws.eventbridge import target_input


def test_hydrate_replays_to_its_own_rule_into_a_new_table_and_cleans_up(aws, tmp_path):
    run(deploy.apply, env_for(aws, tmp_path))
    env = AwsEnv(region=REGION, endpoint_url=aws)
    sent = []
    env.session.events.register(
        "before-parameter-build.events.StartReplay", lambda params, **kw: sent.append(params)
    )
    arns = Arns(env.partition, env.region, env.account)
    lines, errors = [], []
    end = datetime.now(timezone.utc)
    status, table = hydrate.hydrate(
        env,
        arns,
        datetime.fromtimestamp(0, tz=timezone.utc),
        end,
        "replay-t1",
        out=lines.append,
        err=errors.append,
        poll_s=0,
        sleep=lambda s: None,
    )
    assert status == 0 and table == "feedmyfurbabies-history-replay-t1"
    (request,) = sent
    assert request["ReplayName"] == "replay-t1" and request["EventEndTime"] == end
    assert request["Destination"]["FilterArns"] == [arns.rule(TOPOLOGY, "hydrate-t1")]
    assert any("warning: --to" in line for line in errors)  # T = now is within the archive's lag
    assert any(line.startswith("replay-t1: COMPLETED") for line in lines)
    dynamodb, events = boto3.client("dynamodb"), boto3.client("events")
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    rules = [r["Name"] for r in events.list_rules(EventBusName="feedmyfurbabies")["Rules"]]
    assert "hydrate-t1" not in rules and "history" in rules
    policy = boto3.client("lambda").get_policy(FunctionName="feedmyfurbabies-projector")["Policy"]
    assert "hydrate-t1" not in policy
    assert (
        lines[-1]
        == "table feedmyfurbabies-history-replay-t1: 0 rows so far (the projector may still be finishing)"
    )


def test_the_projector_writes_the_hydrated_table_it_is_given_and_no_other(aws, monkeypatch):
    dynamodb = boto3.client("dynamodb")
    for name in ("feedmyfurbabies-history", "feedmyfurbabies-history-replay-t2", "other"):
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    monkeypatch.setenv("HISTORY_TABLE", "feedmyfurbabies-history")
    projector.store.cache_clear()
    press = dict(press_event(1, at=int(time.time())), **{"replay-name": "replay-t2"})
    assert projector.handler({"table": "feedmyfurbabies-history-replay-t2", "event": press}) == {
        "status": "press"
    }
    refused = projector.handler({"table": "other", "event": press})
    projector.store.cache_clear()
    assert refused["status"] == "rejected" and "not a history table" in refused["reason"]
    counts = {
        name: dynamodb.scan(TableName=name, Select="COUNT")["Count"]
        for name in ("feedmyfurbabies-history", "feedmyfurbabies-history-replay-t2", "other")
    }
    assert counts == {"feedmyfurbabies-history": 0, "feedmyfurbabies-history-replay-t2": 1, "other": 0}


def test_the_table_and_rule_names_follow_the_unique_replay_name():
    name = "replay-20261129T231840Z-ab12cd"
    assert hydrate.plan(name) == ("feedmyfurbabies-history-" + name, "hydrate-20261129T231840Z-ab12cd")


def test_the_projector_gets_each_replayed_event_whole_through_the_hydrate_target(aws, tmp_path, monkeypatch):
    """What AWS sends the projector through the hydrate rule's input transformer, as AWS documents it
    (`<aws.events.event>` has no `detail`), projects the press into the new table."""
    run(deploy.apply, env_for(aws, tmp_path))
    env = AwsEnv(region=REGION, endpoint_url=aws)
    arns = Arns(env.partition, env.region, env.account)
    table, rule = hydrate.create(env, arns, "replay-t3", out=lambda line: None)
    events = boto3.client("events")
    (target,) = events.list_targets_by_rule(Rule=rule, EventBusName="feedmyfurbabies")["Targets"]
    press = dict(press_event(1, at=int(time.time())), **{"replay-name": "replay-t3"})
    received = target_input(target["InputTransformer"], press, arns.rule(TOPOLOGY, rule), rule)
    assert received == {"table": table, "event": press}
    monkeypatch.setenv("HISTORY_TABLE", "feedmyfurbabies-history")
    projector.store.cache_clear()
    assert projector.handler(received) == {"status": "press"}
    projector.store.cache_clear()
    assert boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] == 1
