"""Hydrate a brand-new feeding history on AWS from the archive, in full or up to a time T:
`python -m cloud.aws.hydrate [--to T] [--from T0] | --list | --finish NAME | --remove NAME`
(and `--endpoint-url URL --region R --profile P`).

1. A new on-demand DynamoDB table `<history table>-<replay name>`, waited for until ACTIVE.
2. Its dead-letter queue `<that table>-failed` (14 days), to which only EventBridge, for this hydrate's
   rule, may send: an event EventBridge could not hand to the projector after its retries lands there.
3. A rule on the bus for this replay's events only (the `history` pattern plus its `replay-name`),
   targeting the projector function with `{"table": <new table>, "event": <the whole event>}` (an input
   transformer), with that queue as its dead-letter queue, and the permission for the rule to invoke it.
4. An archive replay of [from, to] whose FilterArns names only that rule, run by cloud/aws/replay.py:
   unique name, a warning when T falls within the archive's ingestion lag, progress while it runs,
   Ctrl-C cancels it.
5. EventBridge invokes its targets asynchronously and retries them for up to a day, so the replay ending
   does not mean every event arrived. The table's row count and the queue's message count are polled until
   neither moved for SETTLE_QUIET_S; then the rule and the permission are removed (`finish`). If they
   still move after SETTLE_TIMEOUT_S, the rule stays and `--finish NAME` removes it later.

`--list` shows every hydrated table: rows, whether its rule is still delivering, failed events in its
queue. `--finish NAME` removes a hydrate's rule and permission; `--remove NAME` also deletes its table and
queue. NAME is the replay name (`replay-...`) or the table's name. The live `history` rule is not in
FilterArns, so the live table never sees replayed events; `feeds` never matches a replay. Times are
ISO-8601 or Unix seconds.
"""

import argparse
import json
import sys
import time
from datetime import datetime, timezone

from cloud.aws import iam, session
from cloud.aws import replay as replay_tool
from cloud.aws.errors import absent_on_not_found
from cloud.aws.iam import Arns
from cloud.topology import TOPOLOGY

HISTORY_RULE = "history"
TARGET_ID = "projector"
# SQS's longest retention: time to look at (and redrive) what could not be delivered.
FAILED_RETENTION_S = 14 * 24 * 3600
# Deliveries are taken as done once the row and failed-event counts stay unchanged this long.
SETTLE_QUIET_S = 120
SETTLE_POLL_S = 15
SETTLE_TIMEOUT_S = 30 * 60


class Names:
    """What one hydrate creates, all derived from its replay name."""

    def __init__(self, replay_name, topology=TOPOLOGY):
        self.replay = replay_name
        self.table = "%s-%s" % (topology["table"]["name"], replay_name)
        self.rule = "hydrate-" + replay_name.removeprefix("replay-")
        self.queue = self.table + "-failed"

    @classmethod
    def given(cls, text, topology=TOPOLOGY):
        """NAME as a user types it: the replay name or the hydrated table's name."""
        return cls(text.removeprefix(topology["table"]["name"] + "-"), topology)


def rule_spec(topology):
    return next(rule for rule in topology["rules"] if rule["name"] == HISTORY_RULE)


def projector_arn(arns, topology):
    (target,) = rule_spec(topology)["targets"]
    return arns.function(topology, target["function"])


def create(aws, arns, names, topology=TOPOLOGY, out=print):
    """The new table, its dead-letter queue, the rule for this replay's events and its permission."""
    dynamodb, events, sqs = aws.client("dynamodb"), aws.client("events"), aws.client("sqs")
    dynamodb.create_table(
        TableName=names.table,
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(
        TableName=names.table, WaiterConfig={"Delay": 2, "MaxAttempts": 60}
    )
    out("created table %s (on demand)" % names.table)
    bus = topology["bus"]["name"]
    rule_arn = arns.rule(topology, names.rule)
    queue_arn = arns.queue_named(names.queue)
    sqs.create_queue(
        QueueName=names.queue,
        Attributes={
            "MessageRetentionPeriod": str(FAILED_RETENTION_S),
            "Policy": iam.dumps(iam.events_queue_policy(queue_arn, [rule_arn])),
        },
    )
    out("created queue %s: events the projector could not be given" % names.queue)
    pattern = dict(rule_spec(topology)["event_pattern"], **{"replay-name": [names.replay]})
    events.put_rule(Name=names.rule, EventBusName=bus, EventPattern=json.dumps(pattern))
    (target,) = rule_spec(topology)["targets"]
    events.put_targets(
        Rule=names.rule,
        EventBusName=bus,
        Targets=[
            {
                "Id": TARGET_ID,
                "Arn": projector_arn(arns, topology),
                # <aws.events.event.json> is the whole event; <aws.events.event> would drop its `detail`
                # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
                "InputTransformer": {
                    "InputPathsMap": {},
                    "InputTemplate": '{"table": %s, "event": <aws.events.event.json>}'
                    % json.dumps(names.table),
                },
                "RetryPolicy": {
                    "MaximumRetryAttempts": target["retry"]["max_attempts"],
                    "MaximumEventAgeInSeconds": target["retry"]["max_event_age_s"],
                },
                "DeadLetterConfig": {"Arn": queue_arn},
            }
        ],
    )
    aws.client("lambda").add_permission(
        FunctionName=projector_arn(arns, topology),
        StatementId=names.rule,
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
        SourceAccount=arns.account,
    )
    out("created rule %s: %s -> projector into %s" % (names.rule, json.dumps(pattern), names.table))


def rows(aws, names):
    pages = (
        aws.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=names.table, Select="COUNT", ConsistentRead=True)
    )
    return sum(page["Count"] for page in pages)


def failed(aws, names):
    """Messages in the hydrate's dead-letter queue (None when it has none)."""
    sqs = aws.client("sqs")
    url = absent_on_not_found("sqs", lambda: sqs.get_queue_url(QueueName=names.queue)["QueueUrl"])
    if url is None:
        return None
    kinds = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=kinds)["Attributes"]
    return sum(int(attributes.get(kind, 0)) for kind in kinds)


def delivering(aws, names, topology=TOPOLOGY):
    """Whether the hydrate's rule still exists (its deliveries were not declared done)."""
    events = aws.client("events")
    found = absent_on_not_found(
        "events", lambda: events.describe_rule(Name=names.rule, EventBusName=topology["bus"]["name"])
    )
    return found is not None


def settle(
    aws,
    names,
    out=print,
    sleep=time.sleep,
    clock=time.monotonic,
    quiet_s=SETTLE_QUIET_S,
    poll_s=SETTLE_POLL_S,
    timeout_s=SETTLE_TIMEOUT_S,
):
    """True once the table's rows and the queue's messages stayed unchanged for quiet_s; False when they
    still moved after timeout_s."""
    began = clock()
    counts, since = None, began
    while True:
        now = (rows(aws, names), failed(aws, names))
        if now != counts:
            counts, since = now, clock()
        elif clock() - since >= quiet_s:
            return True
        if clock() - began >= timeout_s:
            return False
        out(
            "  deliveries to %s: %d rows, %d failed; unchanged for %.0f s of %d"
            % (names.table, now[0], now[1] or 0, clock() - since, quiet_s)
        )
        sleep(poll_s)


def finish(aws, arns, names, topology=TOPOLOGY, out=print):
    """Remove the hydrate's rule (targets first) and its permission to invoke the projector, if present."""
    events, bus = aws.client("events"), topology["bus"]["name"]
    if delivering(aws, names, topology):
        targets = events.list_targets_by_rule(Rule=names.rule, EventBusName=bus)["Targets"]
        if targets:
            events.remove_targets(Rule=names.rule, EventBusName=bus, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=names.rule, EventBusName=bus)
    lambda_, function = aws.client("lambda"), projector_arn(arns, topology)
    policy = absent_on_not_found("lambda", lambda: lambda_.get_policy(FunctionName=function)["Policy"])
    if policy and any(s.get("Sid") == names.rule for s in json.loads(policy)["Statement"]):
        lambda_.remove_permission(FunctionName=function, StatementId=names.rule)
    out("removed rule %s and its permission" % names.rule)
    summary(aws, names, out)


def summary(aws, names, out=print):
    count = failed(aws, names)
    out(
        "table %s: %d rows; %s"
        % (
            names.table,
            rows(aws, names),
            "no dead-letter queue"
            if count is None
            else "%d events could not be delivered, in queue %s" % (count, names.queue)
            if count
            else "no failed deliveries",
        )
    )


def remove(aws, arns, names, topology=TOPOLOGY, out=print):
    """Delete a hydrate: its rule and permission if still there, its table and its queue."""
    finish(aws, arns, names, topology, out=lambda line: None)
    dynamodb, sqs = aws.client("dynamodb"), aws.client("sqs")
    if absent_on_not_found("dynamodb", lambda: dynamodb.describe_table(TableName=names.table)) is not None:
        dynamodb.delete_table(TableName=names.table)
    url = absent_on_not_found("sqs", lambda: sqs.get_queue_url(QueueName=names.queue)["QueueUrl"])
    if url is not None:
        sqs.delete_queue(QueueUrl=url)
    out(
        "removed hydrate %s: rule %s, table %s, queue %s"
        % (names.replay, names.rule, names.table, names.queue)
    )


def hydrated_tables(dynamodb, topology=TOPOLOGY):
    """Names of the tables hydrates created (`<history table>-replay-...`)."""
    prefix = topology["table"]["name"] + "-replay-"
    pages = dynamodb.get_paginator("list_tables").paginate()
    return sorted(name for page in pages for name in page["TableNames"] if name.startswith(prefix))


def list_hydrated(aws, topology=TOPOLOGY, out=print):
    tables = hydrated_tables(aws.client("dynamodb"), topology)
    for table in tables:
        names = Names.given(table, topology)
        state = "rule %s still delivering" % names.rule if delivering(aws, names, topology) else "finished"
        count = failed(aws, names)
        out(
            "%s: %d rows, %s, %s failed deliveries"
            % (table, rows(aws, names), state, "?" if count is None else count)
        )
    out("%d hydrated tables." % len(tables) if tables else "No hydrated tables.")
    return tables


def hydrate(
    aws,
    arns,
    start_time,
    end_time,
    name,
    topology=TOPOLOGY,
    out=print,
    err=print,
    sleep=time.sleep,
    clock=time.monotonic,
    settle_timeout_s=SETTLE_TIMEOUT_S,
    **replay_options,
):
    """Returns (exit status, new table name)."""
    names = Names(name, topology)
    create(aws, arns, names, topology, out)
    try:
        status = replay_tool.replay(
            aws.client("events"),
            arns,
            start_time,
            end_time,
            [names.rule],
            name,
            out=out,
            err=err,
            sleep=sleep,
            clock=clock,
            **replay_options,
        )
    except replay_tool.ReplayRefused:
        remove(aws, arns, names, topology, out)  # nothing was replayed
        raise
    if settle(aws, names, out=out, sleep=sleep, clock=clock, timeout_s=settle_timeout_s):
        finish(aws, arns, names, topology, out)
    else:
        summary(aws, names, out)
        err(
            "deliveries to %s still arriving after %d s: rule %s kept; `make hydrate FINISH=%s` removes it"
            % (names.table, settle_timeout_s, names.rule, name)
        )
    return status, names.table


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.aws.hydrate", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="0", help="first event time (default: the beginning)")
    parser.add_argument("--to", dest="end", help="last event time, T (default: now)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list the hydrated tables")
    action.add_argument(
        "--finish", metavar="NAME", help="remove a hydrate's rule once its deliveries are done"
    )
    action.add_argument("--remove", metavar="NAME", help="delete a hydrate: rule, table and queue")
    session.add_arguments(parser)
    args = parser.parse_args(argv)
    err = lambda line: print(line, file=sys.stderr)  # noqa: E731
    try:
        aws = session.AwsEnv.from_args(args)
        if args.list:
            list_hydrated(aws)
            return 0
        arns = Arns(aws.partition, aws.region, aws.account)
        if args.finish or args.remove:
            step = finish if args.finish else remove
            step(aws, arns, Names.given(args.finish or args.remove))
            return 0
        start_time = replay_tool.parse_time(args.start)
        end_time = replay_tool.parse_time(args.end) if args.end else datetime.now(timezone.utc)
        status, _ = hydrate(aws, arns, start_time, end_time, replay_tool.unique_name(), err=err)
        return status
    except replay_tool.ReplayRefused as refusal:
        err("refused: %s" % refusal)
        return 2
    except session.AWS_FAILURES as error:
        return session.report("hydrate", error)


if __name__ == "__main__":
    sys.exit(main())
