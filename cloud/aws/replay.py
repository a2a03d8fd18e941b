"""Replay the ledger on AWS:
`python -m cloud.aws.replay --from T --to T --rules a,b [--endpoint-url URL] [--region R]`.

Starts an EventBridge archive replay of [from, to] onto the bus, delivered only to the named rules
(FilterArns), which must exist, and follows it with describe_replay until it ends, printing its state,
how far it got and the archive's event count. Ctrl-C cancels the replay and waits until it stopped.
Replayed events carry `replay-name`; the live `feeds` rule ignores them, and this tool refuses to name
it, so a replay never feeds the cats. Times are ISO-8601 (UTC when no offset is given) or Unix seconds.
"""

import argparse
import secrets
import sys
import time
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from cloud.aws import session
from cloud.aws.errors import absent_on_not_found
from cloud.aws.iam import Arns
from cloud.aws.waiting import Waiting
from cloud.topology import TOPOLOGY

FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED")
# EventBridge: "There may be a delay between an event being published to an archived event bus and the
# event arriving in the archive"; AWS recommends replaying only events at least 10 minutes old.
ARCHIVE_INGESTION_LAG_S = 600
CANCEL_TIMEOUT_S = 120
INTERRUPTED = 130  # the shell's status for a command ended by Ctrl-C


class ReplayRefused(ValueError):
    """The requested replay could feed the cats again or is not well-formed; nothing was started."""


def parse_time(text):
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):  # not a number; NaN, or beyond the platform's times
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ReplayRefused("time %r: expected ISO-8601 or Unix seconds" % text) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _time(option, text):
    """parse_time, its refusal naming the option (and the make variable) the time came from."""
    try:
        return parse_time(text)
    except ReplayRefused as refusal:
        raise ReplayRefused("%s: %s" % (option, refusal)) from None


def chosen_rules(text, topology=TOPOLOGY):
    rules = [name.strip() for name in text.split(",") if name.strip()]
    if not rules:
        raise ReplayRefused("--rules: name at least one rule; a replay to every rule would reach the feeder")
    if topology["live_rule"] in rules:
        raise ReplayRefused(
            "--rules: %r is the live feeder rule; replays must never feed" % topology["live_rule"]
        )
    return rules


def unique_name(now=time.time):
    """Second and random suffix: two replays started within one second no longer collide."""
    return "replay-%s-%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now())), secrets.token_hex(3))


def check_rules_exist(events, rules, topology=TOPOLOGY):
    bus = topology["bus"]["name"]
    missing = [
        rule
        for rule in rules
        if absent_on_not_found("events", lambda rule=rule: events.describe_rule(Name=rule, EventBusName=bus))
        is None
    ]
    if missing:
        raise ReplayRefused("--rules: no rule %s on bus %s" % (", ".join(map(repr, missing)), bus))


def ingestion_lag_warning(end_time, now=time.time):
    """A warning when the window ends so recently that its last presses may not be archived yet."""
    if end_time.timestamp() > now() - ARCHIVE_INGESTION_LAG_S:
        return (
            "warning: --to %s is less than %d minutes ago: EventBridge may not have archived the latest"
            " presses yet, and those would be missing from this replay"
            % (end_time.isoformat(), ARCHIVE_INGESTION_LAG_S // 60)
        )
    return None


def archive_summary(events, topology=TOPOLOGY):
    archive = events.describe_archive(ArchiveName=topology["archive"]["name"])
    return "archive %s: %d events, %d bytes, state %s" % (
        archive["ArchiveName"],
        archive.get("EventCount", 0),
        archive.get("SizeBytes", 0),
        archive.get("State", "?"),
    )


def start(events, arns, start_time, end_time, rules, name, topology=TOPOLOGY):
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


def follow(events, name, start_time, end_time, poll_s=2.0, out=print, sleep=time.sleep, clock=time.monotonic):
    """Print progress from describe_replay until the replay ends; return its final description."""
    began, polls = clock(), 0
    while True:
        replay = events.describe_replay(ReplayName=name)
        polls += 1
        state = replay["State"]
        last = replay.get("EventLastReplayedTime")
        progress = "poll %d, %.0f s" % (polls, clock() - began)
        if last is not None:
            done = (last - start_time) / (end_time - start_time)
            out(
                "%s: %s, replayed up to %s (%.0f%% of the window), %s"
                % (name, state, last.isoformat(), 100 * min(done, 1.0), progress)
            )
        else:
            out("%s: %s, %s" % (name, state, progress))
        if state in FINAL_STATES:
            return replay
        sleep(poll_s)


def cancel(events, name, waiting):
    """Cancel a running replay and wait until EventBridge reports it stopped; return its final description."""
    try:
        events.cancel_replay(ReplayName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "IllegalStatusException":
            raise  # IllegalStatusException: it ended on its own meanwhile; its state says how

    def stopped():
        replay = events.describe_replay(ReplayName=name)
        return replay if replay["State"] in FINAL_STATES else None

    return waiting.until("replay %s to stop" % name, stopped, timeout_s=CANCEL_TIMEOUT_S)


def replay(
    events, arns, start_time, end_time, rules, name, out=print, err=print, waiting=None, **follow_options
):
    """Check, start and follow one replay (Ctrl-C cancels it); return the exit status."""
    waiting = waiting or Waiting(out=out)
    if start_time >= end_time:
        raise ReplayRefused("--from must be before --to")
    check_rules_exist(events, rules)
    warning = ingestion_lag_warning(end_time)
    if warning:
        err(warning)
    out(archive_summary(events))
    start(events, arns, start_time, end_time, rules, name)
    out("started %s: %s .. %s to %s" % (name, start_time.isoformat(), end_time.isoformat(), ", ".join(rules)))
    try:
        final = follow(events, name, start_time, end_time, out=out, **follow_options)
    except KeyboardInterrupt:
        err("interrupted: cancelling replay %s" % name)
        final = cancel(events, name, waiting)
        err("replay %s %s" % (name, final["State"]))
        return INTERRUPTED
    if final["State"] != "COMPLETED":
        err("replay %s ended %s: %s" % (name, final["State"], final.get("StateReason", "")))
        return 1
    # EventBridge reports no per-replay event count: the archive's total is the count there is.
    out("%s: COMPLETED; %s" % (name, archive_summary(events)))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.aws.replay", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", required=True, help="first event time to replay")
    parser.add_argument("--to", dest="end", required=True, help="last event time to replay")
    parser.add_argument("--rules", required=True, help="comma-separated rule names (never the live rule)")
    parser.add_argument("--name", help="replay name (default: replay-<UTC time>-<random>, unique)")
    session.add_arguments(parser)
    args = parser.parse_args(argv)
    err = lambda line: print(line, file=sys.stderr)  # noqa: E731
    try:
        rules = chosen_rules(args.rules)  # a refusal needs no AWS
        start_time, end_time = _time("--from (FROM=)", args.start), _time("--to (TO=)", args.end)
        aws = session.AwsEnv.from_args(args)
        events = aws.client("events")
        arns = Arns(aws.partition, aws.region, aws.account)
        return replay(events, arns, start_time, end_time, rules, args.name or unique_name(), err=err)
    except ReplayRefused as refusal:
        err("replay: refused: %s" % refusal)
        return 2
    except session.AWS_FAILURES as error:
        return session.report("replay", error)


if __name__ == "__main__":
    sys.exit(main())
