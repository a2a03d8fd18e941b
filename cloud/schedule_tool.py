"""A feeder's schedule from the command line: `make schedule` (python -m cloud.schedule_tool).

    python -m cloud.schedule_tool [show] [--thing T]
    python -m cloud.schedule_tool set    --slot 0 --at 07:30 --event LONG [--portions 1] [--days daily]
    python -m cloud.schedule_tool remove --slot 0
    python -m cloud.schedule_tool grace  --minutes 30
    python -m cloud.schedule_tool pause | resume | skip
    (each with [--thing T] [--household household.json] [--data-dir .hub | --aws [--table NAME] ...])

`show` prints the schedule and the next feeding in the household's local time (cloud/schedule.py). Every
other command reads the current schedule from the projection (`schedule#<thing>`, cloud/handlers/
projector.py), applies the change, validates it against the household file, and records one
`ScheduleChanged` of the next version in the ledger (docs/protocol.md, "In the ledger"); the `schedules`
rule then writes the shadow the feeder follows. A change that does not validate is one line on stderr,
exit status 1, and nothing is recorded.

Where the event goes, as `make press` reaches each backend:
- the hub (default): appended to its ledger file in --data-dir (SQLite serialises it with the hub's own
  writes). Its dedup key is the thing and version, so a second change of the same version (two people
  saving at once) is not recorded: "changed meanwhile", try again. The hub's rules pick it up within
  their 0.2 s poll, and the command returns once the projection shows it, so the next command builds on
  it; with no hub running it returns at once, and a second change is refused until a hub applies it.
- `--aws`: PutEvents on the stack's bus. Two saves at the same moment may both take the next version;
  the projection and the shadow keep one of them (cloud/handlers/projector.py, schedules.py).
"""

import json
import os
import sys
import time
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError

from cloud import history as history_mod
from cloud import household as household_mod
from cloud import schedule
from cloud.aws import session
from cloud.cli import OneLineParser
from cloud.hub import lock as hub_lock
from cloud.hub.events import dedup_key, envelope
from cloud.hub.hub import LEDGER_FILE
from cloud.hub.ledger import Ledger
from cloud.topology import SCHEDULE_CHANGED, SOURCE, TOPOLOGY

COMMANDS = ("show", "set", "remove", "grace", "pause", "resume", "skip")
# A change recorded on the hub reaches the projection within its rules' 0.2 s poll; this bounds the wait
# for a hub too busy to do it.
PROJECTED_WITHIN_S = 5


class ChangedMeanwhile(schedule.ScheduleError):
    """Another change took this version first; nothing was recorded."""


def current(store, thing):
    """(schedule or None, its version, the projection row) of thing, from the projection."""
    row, _ = store.get("schedule#" + thing)
    changed = (row or {}).get("changed")
    return (changed["schedule"], changed["version"], row) if changed else (None, 0, row or {})


def change_entry(thing, version, action, valid, origin, bus_name, now):
    """The PutEvents entry of one ScheduleChanged (valid: a validated schedule)."""
    detail = {
        "thing": thing,
        "version": version,
        "action": action,
        "schedule": valid,
        "tz": schedule.posix_tz(valid["timezone"]),
        "origin": origin,
    }
    return {
        "EventBusName": bus_name,
        "Source": SOURCE,
        "DetailType": SCHEDULE_CHANGED,
        "Time": datetime.fromtimestamp(now, timezone.utc),
        "Detail": json.dumps(detail, separators=(",", ":")),
    }


def save(args, store, thing, command, origin, now=None, **change):
    """Apply one change and record it; returns (version, schedule). ScheduleError when it does not
    validate or the version was taken meanwhile; BotoCoreError/ClientError from AWS."""
    now = time.time() if now is None else now
    household = household_mod.load(args.household)
    household_mod.thing(household, thing)
    before, version, _ = current(store, thing)
    action, valid = schedule.edit(
        before, "set" if command in ("remove", "grace") else command, household, thing, now, **change
    )
    entry = change_entry(thing, version + 1, action, valid, origin, TOPOLOGY["bus"]["name"], now)
    if args.aws:
        answer = session.AwsEnv.from_args(args).client("events").put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            raise schedule.ScheduleError("the bus refused the change: %s" % answer["Entries"][0])
    else:
        path = os.path.join(args.data_dir, LEDGER_FILE)
        if not os.path.exists(path):
            raise schedule.ScheduleError(
                "no hub ledger in %s: start the hub (make hub) first" % args.data_dir
            )
        event = envelope(entry)
        ledger = Ledger(path)
        try:
            (written,) = ledger.append_batch([(event, dedup_key(event))])
        finally:
            ledger.close()
        if written is None:
            if not hub_lock.held(args.data_dir):
                raise ChangedMeanwhile(
                    "version %d is in the ledger but no hub runs on %s to apply it: start the hub "
                    "(make hub), then try again; nothing recorded" % (version + 1, args.data_dir)
                )
            raise ChangedMeanwhile(
                "version %d: the schedule changed meanwhile; nothing recorded, try again" % (version + 1)
            )
        _await_projection(store, thing, version + 1, args.data_dir)
    return version + 1, valid


def _await_projection(store, thing, version, data_dir):
    """Return once the running hub has projected `version`, so that a change made right after this one
    builds on it instead of taking the same version ("changed meanwhile"). A stopped hub projects it when
    it starts: no wait then."""
    deadline = time.monotonic() + PROJECTED_WITHIN_S
    while current(store, thing)[1] < version and time.monotonic() < deadline and hub_lock.held(data_dir):
        time.sleep(0.05)


def add_store_arguments(parser):
    parser.add_argument("--household", default=household_mod.PATH, help="the household file")
    parser.add_argument("--data-dir", default=".hub", help="the hub's data folder")
    parser.add_argument("--aws", action="store_true", help="the deployed stack (bus and history table)")
    parser.add_argument("--table", default=TOPOLOGY["table"]["name"])
    session.add_arguments(parser)


def main(argv=None):
    parser = OneLineParser("schedule", prog="python -m cloud.schedule_tool",
                           description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="show", choices=COMMANDS)
    parser.add_argument("--thing", default=None, help="the feeder (default: the household's first)")
    parser.add_argument("--slot", type=int)
    parser.add_argument("--at", help="local time HH:MM")
    parser.add_argument("--event", help="SINGLE (left bowl), DOUBLE (right), LONG (both)")
    parser.add_argument("--portions", type=int, default=1)
    parser.add_argument("--days", default="daily", help="daily, weekdays, weekends or mon,wed,...")
    parser.add_argument("--minutes", type=int, help="grace: how late a missed slot is still fed")
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    try:
        household = household_mod.load(args.household)
        thing = args.thing or next(e["thing"] for e in household["things"] if e["role"] == "feeder")
        household_mod.feeder(household, thing)
        store = history_mod.open_store(args, 'make schedule ARGS="--data-dir DIR"')
    except (household_mod.HouseholdError, FileNotFoundError) as error:
        print("schedule: %s" % error, file=sys.stderr)
        return 1
    except session.AWS_FAILURES as error:
        return session.report("schedule", error)
    try:
        if args.command != "show":
            change = _change(args)
            version, _ = save(args, store, thing, args.command, "cli", **change)
            print("schedule: %s recorded as version %d for %s" % (args.command, version, thing))
        else:
            _print(thing, *current(store, thing))
    except (schedule.ScheduleError, household_mod.HouseholdError) as error:
        print("schedule: %s" % error, file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print("schedule: %s" % session.explain(error), file=sys.stderr)
        return 1
    finally:
        history_mod.close_store(store)
    return 0


def _change(args):
    if args.command == "set":
        if args.slot is None or args.at is None or args.event is None:
            raise schedule.ScheduleError("set: give --slot, --at HH:MM and --event (and --portions, --days)")
        return {
            "slot": {
                "id": args.slot,
                "at": args.at,
                "event": args.event,
                "portions": args.portions,
                "days": schedule.parse_days(args.days),
            }
        }
    if args.command == "remove":
        if args.slot is None:
            raise schedule.ScheduleError("remove: give --slot")
        return {"remove": args.slot}
    if args.command == "grace":
        if args.minutes is None:
            raise schedule.ScheduleError("grace: give --minutes")
        return {"grace_min": args.minutes}
    return {}


def _print(thing, found, version, row):
    print("schedule of %s: version %d" % (thing, version))
    for line in schedule.describe(found, time.time()):
        print("  " + line)
    reported = row.get("reported")
    if reported:
        print(
            "  the feeder reported version %d (clock %s)%s"
            % (
                reported["version"],
                reported.get("clock") or "?",
                ", refused a newer one: %s" % reported["error"] if reported.get("error") else "",
            )
        )


if __name__ == "__main__":
    sys.exit(main())
