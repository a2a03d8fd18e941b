"""Hydrate a brand-new feeding history on AWS from the archive, in full or up to a time T:
`python -m cloud.hydrate [--to T] [--from T0] [--endpoint-url URL] [--region R] [--profile P]`.

1. A new on-demand DynamoDB table `<history table>-<replay name>`.
2. A rule on the bus for this replay's events only (the `history` pattern plus its `replay-name`),
   targeting the projector function with `{"table": <new table>, "event": <the event>}` (an input
   transformer), and the permission for that rule to invoke it.
3. An archive replay of [from, to] whose FilterArns names only that rule, run by cloud/replay.py:
   unique name, a warning when T falls within the archive's ingestion lag, progress while it runs,
   Ctrl-C cancels it.
4. The rule and the permission are removed; the table stays. Its name and item count are printed
   (the projector may still be finishing the last invocations for a few seconds).

The live `history` rule ignores nothing, but it is not in FilterArns, so the live table never sees
these replayed events; `feeds` never matches a replay. Times are ISO-8601 or Unix seconds.
"""

import argparse
import json
import sys
from datetime import datetime, timezone

from cloud import awsenv
from cloud import replay as replay_tool
from cloud.iam import Arns
from cloud.topology import TOPOLOGY

HISTORY_RULE = "history"


def rule_spec(topology):
    return next(rule for rule in topology["rules"] if rule["name"] == HISTORY_RULE)


def plan(name, topology=TOPOLOGY):
    """Names of what one hydrate creates: (table, rule)."""
    return "%s-%s" % (topology["table"]["name"], name), "hydrate-" + name.removeprefix("replay-")


def create(aws, arns, name, topology=TOPOLOGY, out=print):
    """The new table, the rule for this replay's events and its permission to invoke the projector."""
    table, rule = plan(name, topology)
    dynamodb, events, lambda_ = aws.client("dynamodb"), aws.client("events"), aws.client("lambda")
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
    out("created table %s (on demand)" % table)
    (target,) = rule_spec(topology)["targets"]
    pattern = dict(rule_spec(topology)["event_pattern"], **{"replay-name": [name]})
    bus = topology["bus"]["name"]
    rule_arn = events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))["RuleArn"]
    function_arn = arns.function(topology, target["function"])
    events.put_targets(
        Rule=rule,
        EventBusName=bus,
        Targets=[
            {
                "Id": "projector",
                "Arn": function_arn,
                "InputTransformer": {
                    "InputPathsMap": {},
                    "InputTemplate": '{"table": %s, "event": <aws.events.event>}' % json.dumps(table),
                },
                "RetryPolicy": {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 24 * 3600},
            }
        ],
    )
    lambda_.add_permission(
        FunctionName=function_arn,
        StatementId=rule,
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
        SourceAccount=arns.account,
    )
    out("created rule %s: %s -> projector into %s" % (rule, json.dumps(pattern), table))
    return table, rule


def remove_rule(aws, arns, name, topology=TOPOLOGY, out=print):
    _, rule = plan(name, topology)
    events, bus = aws.client("events"), topology["bus"]["name"]
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["projector"])
    events.delete_rule(Name=rule, EventBusName=bus)
    (target,) = rule_spec(topology)["targets"]
    aws.client("lambda").remove_permission(
        FunctionName=arns.function(topology, target["function"]), StatementId=rule
    )
    out("removed rule %s and its permission" % rule)


def hydrate(aws, arns, start_time, end_time, name, topology=TOPOLOGY, out=print, err=print, **replay_options):
    """Returns (exit status, new table name)."""
    table, rule = create(aws, arns, name, topology, out)
    try:
        status = replay_tool.replay(
            aws.client("events"), arns, start_time, end_time, [rule], name, out=out, err=err, **replay_options
        )
    finally:
        remove_rule(aws, arns, name, topology, out)
    count = aws.client("dynamodb").scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]
    out("table %s: %d rows so far (the projector may still be finishing)" % (table, count))
    return status, table


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.hydrate", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="0", help="first event time (default: the beginning)")
    parser.add_argument("--to", dest="end", help="last event time, T (default: now)")
    awsenv.add_arguments(parser)
    args = parser.parse_args(argv)
    err = lambda line: print(line, file=sys.stderr)  # noqa: E731
    try:
        start_time = replay_tool.parse_time(args.start)
        end_time = replay_tool.parse_time(args.end) if args.end else datetime.now(timezone.utc)
        aws = awsenv.AwsEnv.from_args(args)
        arns = Arns(aws.partition, aws.region, aws.account)
        status, _ = hydrate(aws, arns, start_time, end_time, replay_tool.unique_name(), err=err)
        return status
    except replay_tool.ReplayRefused as refusal:
        err("refused: %s" % refusal)
        return 2
    except awsenv.AWS_FAILURES as error:
        return awsenv.report("hydrate", error)


if __name__ == "__main__":
    sys.exit(main())
