"""Replay the ledger: `python -m cloud.replay --from T --to T --rules a,b [--endpoint-url URL] [--region R]`.

Starts an EventBridge archive replay of [from, to] onto the bus, delivered only to the named rules
(FilterArns), and follows it with describe_replay until it ends. Replayed events carry `replay-name`;
the live `feeds` rule ignores them, and this tool refuses to name it, so a replay never feeds the cats.
Times are ISO-8601 (UTC when no offset is given) or Unix seconds.
"""

import argparse
import sys
import time
from datetime import datetime, timezone

from cloud import awsenv
from cloud.iam import Arns
from cloud.topology import TOPOLOGY

FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED")


class ReplayRefused(ValueError):
    """The requested replay could feed the cats again or is not well-formed; nothing was started."""


def parse_time(text):
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ReplayRefused("time %r: expected ISO-8601 or Unix seconds" % text) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def chosen_rules(text, topology=TOPOLOGY):
    rules = [name.strip() for name in text.split(",") if name.strip()]
    if not rules:
        raise ReplayRefused("--rules: name at least one rule; a replay to every rule would reach the feeder")
    if topology["live_rule"] in rules:
        raise ReplayRefused(
            "--rules: %r is the live feeder rule; replays must never feed" % topology["live_rule"]
        )
    return rules


def start(events, arns, start_time, end_time, rules, name, topology=TOPOLOGY):
    if start_time >= end_time:
        raise ReplayRefused("--from must be before --to")
    events.start_replay(
        ReplayName=name,
        Description="Replay of %s to %s" % (topology["archive"]["name"], ", ".join(rules)),
        EventSourceArn=arns.archive(topology),
        EventStartTime=start_time,
        EventEndTime=end_time,
        Destination={
            "Arn": arns.bus(topology),
            "FilterArns": [arns.rule(topology, rule) for rule in rules],
        },
    )


def follow(events, name, start_time, end_time, poll_s=2.0, out=print, sleep=time.sleep):
    """Print progress from describe_replay until the replay ends; return its final description."""
    while True:
        replay = events.describe_replay(ReplayName=name)
        state = replay["State"]
        last = replay.get("EventLastReplayedTime")
        if last is not None:
            done = (last - start_time) / (end_time - start_time)
            out("%s: %s, replayed up to %s (%.0f%%)" % (name, state, last.isoformat(), 100 * min(done, 1.0)))
        else:
            out("%s: %s" % (name, state))
        if state in FINAL_STATES:
            return replay
        sleep(poll_s)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.replay", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", required=True, help="first event time to replay")
    parser.add_argument("--to", dest="end", required=True, help="last event time to replay")
    parser.add_argument("--rules", required=True, help="comma-separated rule names (never the live rule)")
    parser.add_argument("--name", help="replay name (default: derived from the time of the call)")
    awsenv.add_arguments(parser)
    args = parser.parse_args(argv)
    aws = awsenv.AwsEnv.from_args(args)
    events = aws.client("events")
    name = args.name or "replay-%d" % time.time()
    try:
        rules = chosen_rules(args.rules)
        start_time, end_time = parse_time(args.start), parse_time(args.end)
        start(events, Arns(aws.partition, aws.region, aws.account), start_time, end_time, rules, name)
    except ReplayRefused as refusal:
        print("refused: %s" % refusal, file=sys.stderr)
        return 2
    replay = follow(events, name, start_time, end_time)
    if replay["State"] != "COMPLETED":
        print(
            "replay %s ended %s: %s" % (name, replay["State"], replay.get("StateReason", "")), file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
