"""AWS hydrate (cloud/aws/hydrate.py) against moto's server: a new on-demand table with its dead-letter queue,
a rule for this replay's events only, a replay whose FilterArns names only that rule, the rule removed once
deliveries settled (or kept, and finished on request); listing and removing hydrates; the projector writing
only the hydrated table it is given, and receiving each event whole as AWS documents the target's input."""

import json
import time
from datetime import datetime, timezone

import boto3
import pytest

from cloud.aws import deploy, hydrate
from cloud.aws.iam import Arns
from cloud.aws.session import AwsEnv
from cloud.handlers import projector
from cloud.topology import TOPOLOGY
from rigs.hubdata import press_event
from tests.cloud.envs import REGION, env_for, run
from tests.strict_aws.eventbridge import target_input


@pytest.fixture
def deployed(aws, tmp_path):
    """The deployed stack; returns (AwsEnv, Arns, the requests sent per operation)."""
    run(deploy.apply, env_for(aws, tmp_path))
    env = AwsEnv(region=REGION, endpoint_url=aws)
    sent = {}
    for operation in ("StartReplay", "PutTargets"):
        env.session.events.register(
            "before-parameter-build.events." + operation,
            lambda params, operation=operation, **kw: sent.setdefault(operation, []).append(params),
        )
    return env, Arns(env.partition, env.region, env.account), sent


def run_hydrate(deployed, name, fake_time, **options):
    env, arns, _ = deployed
    lines, errors = [], []
    result = hydrate.hydrate(
        env,
        arns,
        datetime.fromtimestamp(0, tz=timezone.utc),
        datetime.now(timezone.utc),
        name,
        out=lines.append,
        err=errors.append,
        poll_s=0,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        **options,
    )
    return result, lines, errors


def rule_names():
    return [r["Name"] for r in boto3.client("events").list_rules(EventBusName="feedmyfurbabies")["Rules"]]


def test_hydrate_replays_to_its_own_rule_into_a_new_table_and_cleans_up_once_settled(deployed, fake_time):
    (status, table), lines, errors = run_hydrate(deployed, "replay-t1", fake_time)
    env, arns, sent = deployed
    assert status == 0 and table == "feedmyfurbabies-history-replay-t1"
    (request,) = sent["StartReplay"]
    assert request["ReplayName"] == "replay-t1"
    assert request["Destination"]["FilterArns"] == [arns.rule(TOPOLOGY, "hydrate-t1")]
    assert any("warning: --to" in line for line in errors)  # T = now is within the archive's lag
    assert any(line.startswith("replay-t1: COMPLETED") for line in lines)
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # The target's dead-letter queue, which only EventBridge for this rule may write.
    (targets,) = sent["PutTargets"]
    queue_arn = arns.queue_named(table + "-failed")
    assert targets["Targets"][0]["DeadLetterConfig"] == {"Arn": queue_arn}
    url = sqs.get_queue_url(QueueName=table + "-failed")["QueueUrl"]
    (statement,) = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )["Statement"]
    assert (
        statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Resource"] == queue_arn
    )
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": [arns.rule(TOPOLOGY, "hydrate-t1")]}}
    # Settled: nothing moved for the quiet period, so the rule and permission went.
    assert sum(fake_time.slept) >= hydrate.SETTLE_QUIET_S
    assert "hydrate-t1" not in rule_names() and "history" in rule_names()
    policy = boto3.client("lambda").get_policy(FunctionName="feedmyfurbabies-projector")["Policy"]
    assert "hydrate-t1" not in policy
    assert lines[-1] == "table feedmyfurbabies-history-replay-t1: 0 rows; no failed deliveries"


def put_row(table, key):
    boto3.client("dynamodb").put_item(TableName=table, Item={"key": {"S": key}})


def test_the_rule_stays_while_rows_arrive_and_goes_once_they_stop(deployed, fake_time):
    names = hydrate.Names("replay-t4")
    env, arns, _ = deployed
    hydrate.create(env, arns, names, out=lambda line: None)
    arrivals = iter(range(3))  # three late deliveries, one per poll, then none

    def sleep(seconds):
        fake_time.sleep(seconds)
        for n in arrivals:
            put_row(names.table, "press#%d" % n)
            break

    lines = []
    assert hydrate.settle(env, names, out=lines.append, sleep=sleep, clock=fake_time.clock)
    assert hydrate.rows(env, names) == 3
    # Quiet only counts from the last arrival: 3 polls with a new row, then the quiet period.
    assert fake_time.now - 1000.0 >= 3 * hydrate.SETTLE_POLL_S + hydrate.SETTLE_QUIET_S
    assert lines[0] == "  deliveries to %s: 0 rows, 0 failed; unchanged for 0 s of 120" % names.table


def test_while_deliveries_never_settle_the_rule_is_kept_until_finish(deployed, fake_time, monkeypatch, aws):
    env, arns, _ = deployed
    arrivals = iter(range(10_000))

    def sleep(seconds):
        fake_time.sleep(seconds)
        put_row("feedmyfurbabies-history-replay-t5", "press#%d" % next(arrivals))

    lines, errors = [], []
    status, table = hydrate.hydrate(
        env,
        arns,
        datetime.fromtimestamp(0, tz=timezone.utc),
        datetime.now(timezone.utc),
        "replay-t5",
        out=lines.append,
        err=errors.append,
        poll_s=0,
        sleep=sleep,
        clock=fake_time.clock,
        settle_timeout_s=150,
    )
    assert status == 0 and "hydrate-t5" in rule_names()
    assert errors[-1] == (
        "deliveries to %s still arriving after 150 s: rule hydrate-t5 kept; "
        "`make hydrate FINISH=replay-t5` removes it" % table
    )
    listed = cli(aws, "--list")
    assert listed.splitlines() == [
        "%s: %d rows, rule hydrate-t5 still delivering, 0 failed deliveries"
        % (table, hydrate.rows(env, hydrate.Names("replay-t5"))),
        "1 hydrated tables.",
    ]
    assert cli(aws, "--finish", "replay-t5").splitlines()[0] == "removed rule hydrate-t5 and its permission"
    assert "hydrate-t5" not in rule_names()
    assert "finished, 0 failed deliveries" in cli(aws, "--list")
    assert cli(aws, "--remove", table).splitlines() == [
        "removed hydrate replay-t5: rule hydrate-t5, table %s, queue %s-failed" % (table, table)
    ]
    assert cli(aws, "--list") == "No hydrated tables.\n"
    assert boto3.client("sqs").list_queues(QueueNamePrefix=table).get("QueueUrls", []) == []


def cli(aws, *args):
    """python -m cloud.aws.hydrate's output, run in this process against moto."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert hydrate.main([*args, "--endpoint-url", aws, "--region", REGION]) == 0
    return out.getvalue()


def test_destroy_names_the_hydrated_tables_it_leaves(deployed, fake_time, aws, tmp_path):
    run_hydrate(deployed, "replay-t6", fake_time)
    removed = run(deploy.destroy, env_for(aws, tmp_path))
    assert removed[-1] == (
        "Kept hydrated history tables: feedmyfurbabies-history-replay-t6 "
        "(`make hydrate LIST=1` lists them, `make hydrate REMOVE=NAME` deletes one)."
    )


def test_the_projector_writes_the_hydrated_table_it_is_given_and_no_other(aws):
    dynamodb = boto3.client("dynamodb")
    for name in ("feedmyfurbabies-history", "feedmyfurbabies-history-replay-t2", "other"):
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    live = "feedmyfurbabies-history"
    context = projector.Context(projector.DynamoStore(dynamodb, live), {"HISTORY_TABLE": live})
    press = dict(press_event(1, at=int(time.time())), **{"replay-name": "replay-t2"})
    assert projector.handle({"table": "feedmyfurbabies-history-replay-t2", "event": press}, context) == {
        "status": "press"
    }
    refused = projector.handle({"table": "other", "event": press}, context)
    assert refused["status"] == "rejected" and "not a history table" in refused["reason"]
    counts = {
        name: dynamodb.scan(TableName=name, Select="COUNT")["Count"]
        for name in ("feedmyfurbabies-history", "feedmyfurbabies-history-replay-t2", "other")
    }
    assert counts == {"feedmyfurbabies-history": 0, "feedmyfurbabies-history-replay-t2": 1, "other": 0}


def test_the_table_rule_and_queue_names_follow_the_unique_replay_name():
    name = "replay-20261129T231840Z-ab12cd"
    for given in (name, "feedmyfurbabies-history-" + name):
        names = hydrate.Names.given(given)
        assert (names.replay, names.table, names.rule, names.queue) == (
            name,
            "feedmyfurbabies-history-" + name,
            "hydrate-20261129T231840Z-ab12cd",
            "feedmyfurbabies-history-%s-failed" % name,
        )
        assert len(names.queue) <= 80  # SQS's limit on a queue name


def test_the_projector_gets_each_replayed_event_whole_through_the_hydrate_target(deployed, monkeypatch):
    """What AWS sends the projector through the hydrate rule's input transformer, as AWS documents it
    (`<aws.events.event>` has no `detail`), projects the press into the new table."""
    env, arns, _ = deployed
    names = hydrate.Names("replay-t3")
    hydrate.create(env, arns, names, out=lambda line: None)
    table, rule = names.table, names.rule
    events = boto3.client("events")
    (target,) = events.list_targets_by_rule(Rule=rule, EventBusName="feedmyfurbabies")["Targets"]
    press = dict(press_event(1, at=int(time.time())), **{"replay-name": "replay-t3"})
    received = target_input(target["InputTransformer"], press, arns.rule(TOPOLOGY, rule), rule)
    assert received == {"table": table, "event": press}
    # The Lambda entry point, with the environment the deployer gives it (cloud/topology.py).
    monkeypatch.setenv("HISTORY_TABLE", "feedmyfurbabies-history")
    projector.deployed.cache_clear()
    try:
        assert projector.handler(received) == {"status": "press"}
    finally:
        projector.deployed.cache_clear()
    assert boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] == 1
