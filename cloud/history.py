"""The feeding history: `make history` (python -m cloud.history).

    python -m cloud.history [--from 2026-11-01] [--to 2026-11-29] [--png history.png] [--thing kitchen]
                            [--household household.json]
                            [--data-dir .hub]                       # the self-hosted hub's projection
                            [--aws [--endpoint-url URL] [--region R] [--profile P] [--table NAME]]

Prints one row per press requested in the day range (UTC days, both ends included; default: the
last 7 days): when, the feeder, which press, the bowls, the device's answer and when it came, or
`unconfirmed` once the command's TTL passed without an answer, and which firmware answered (the release
of the feeder's last update over the air that succeeded before, `-` before any: `firmware_at`); then
each device's last status, the firmware of its last telemetry, and the results it numbered (seq) that
never arrived. Writes a PNG chart of portions per day per bowl, one panel per feeder, with failed
(expired, capped, interrupted, rejected, a scheduled feeding missed) and unconfirmed feeds marked when
there are any. A scheduled feeding is listed at its due time, its press column `schedule`. `--thing`
keeps one feeder's presses and device. Reads the projection written by cloud/handlers/projector.py:
SQLite on the hub, DynamoDB on AWS.

A press's feeder (`feeder_of`) is the thing that answered it (its result's states topic); before an
answer, the feeder its button targets: the household file's mapping for a remote button, else the
button's own thing (a feeder's own button). So every press of the ledger, old ones included, has one.
"""

import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone

from cloud import household as household_mod
from cloud.aws import session
from cloud.cli import OneLineParser
from cloud.handlers.projector import answered_by, outcome_as_of
from cloud.topology import COMMAND_TTL_S, TOPOLOGY

BOWLS = ("left", "right")
FAILED = ("expired", "capped", "interrupted", "rejected", "missed")
DEFAULT_DAYS = 7
# The days a device's times can name (cloud/handlers/bounds.py: Unix seconds 1 .. 2^32 - 1).
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2106, 2, 6)


class History:
    """Press and device rows of a projection, as of a moment; each press with its `shown` outcome and
    its `feeder` (feeder_of, with the routes of `household`, default: the single feeder's)."""

    def __init__(self, rows, as_of, ttl_s=COMMAND_TTL_S, household=None):
        self.as_of = as_of
        self.household = household or household_mod.validate(household_mod.DEFAULT)
        routes = household_mod.routes(self.household)
        self.presses, self.devices = [], []
        for key, row in rows:
            if key.startswith("press#"):
                self.presses.append(row)
            elif key.startswith("device#"):
                self.devices.append(row)
        for press in self.presses:
            press["shown"] = outcome_as_of(press, as_of, ttl_s)
            press["feeder"] = feeder_of(press, routes)
        self.presses.sort(key=lambda press: (press.get("requested_at") or 0, press.get("press_id")))

    def between(self, first_day, last_day, thing=None):
        start = _midnight(first_day)
        end = _midnight(last_day + timedelta(days=1))
        return [
            p for p in self.presses
            if p.get("requested_at") is not None and start <= p["requested_at"] < end
            and thing in (None, p["feeder"])
        ]

    def feeders(self, presses=()):
        """The feeders to show: the household's, in its file's order, then any other thing the
        presses or devices name (a feeder since removed from the file), by name."""
        listed = [entry["thing"] for entry in self.household["things"] if entry["role"] == "feeder"]
        seen = ({p["feeder"] for p in presses} | {d.get("thing") for d in self.devices}) - {None}
        return listed + sorted(seen - set(listed))

    def per_day(self, presses):
        """{day: {"left": portions, "right": portions, "failed": n, "unconfirmed": n}}"""
        days = {}
        for press in presses:
            day = datetime.fromtimestamp(press["requested_at"], tz=timezone.utc).date()
            counts = days.setdefault(day, {"left": 0, "right": 0, "failed": 0, "unconfirmed": 0})
            if press["shown"] == "dispensed":
                for bowl in press.get("fed_bowls", []):
                    counts[bowl] += 1
            elif press["shown"] in FAILED:
                counts["failed"] += 1
            elif press["shown"] == "unconfirmed":
                counts["unconfirmed"] += 1
        return days


def feeder_of(press, routes):
    """The feeder a press row belongs to: see the module's docstring. routes: household.routes()."""
    answered = answered_by(press)
    if answered:
        return answered
    button = press.get("button")
    return routes.get(button, button)


def latest_update(device):
    """The device row's newest update over the air (its job first heard of last; cloud/handlers/projector.py
    keeps each job's phases) as `{job, version, state, at, offered_at, size, reason}`: `state` is the
    outcome once it ended (succeeded, rolled_back, failed), else `started` or `offered`, `at` that
    phase's time; None before any update."""
    updates = device.get("updates") or {}
    if not updates:
        return None
    job, phases = max(updates.items(), key=lambda item: (min(p["at"] for p in item[1].values()), item[0]))
    ended, started, offered = phases.get("ended"), phases.get("started"), phases.get("offered") or {}
    state = ended["outcome"] if ended else "started" if started else "offered"
    newest = ended or started or offered
    return {"job": job, "version": newest.get("version"), "state": state, "at": newest["at"],
            "offered_at": offered.get("at"), "size": offered.get("size"),
            "reason": ended.get("reason") if ended else None}


def firmware_at(device, moment):
    """The release the ledger says the feeder ran at `moment`: the version of its last update that
    succeeded by then. None before any (the set flashed by cable has no version); a cable flash after
    an update leaves no event, so the history cannot see it."""
    succeeded = [phases["ended"] for phases in (device.get("updates") or {}).values()
                 if phases.get("ended", {}).get("outcome") == "succeeded" and phases["ended"]["at"] <= moment]
    return max(succeeded, key=lambda ended: ended["at"])["version"] if succeeded else None


def table(history, presses, thing=None):
    lines = [
        "%-20s %-16s %-8s %-11s %-12s %-9s %-9s %s"
        % ("requested (UTC)", "feeder", "press", "bowls", "outcome", "answered", "firmware", "id")
    ]
    devices = {device.get("thing"): device for device in history.devices}
    for press in presses:
        # The device's clock, to the second: an answer may read a second before a press timed to the ms.
        answered = _when(press.get("outcome_at"))[11:]
        outcome = press["shown"] + (" (%s)" % press["reason"] if press.get("reason") else "")
        # Which firmware fed: the release the ledger's updates say ran when the feeder answered.
        answered_at = press.get("outcome_at") or press["requested_at"]
        firmware = firmware_at(devices.get(press["feeder"], {}), answered_at)
        lines.append(
            "%-20s %-16s %-8s %-11s %-12s %-9s %-9s %s"
            % (
                _when(press["requested_at"]),
                press["feeder"],
                press.get("event") or press.get("origin"),  # a scheduled feeding: `schedule`
                "+".join(press.get("bowls") or press.get("fed_bowls", [])),  # a scheduled one: what it fed
                outcome,
                answered,
                firmware or "-",
                press.get("press_id"),
            )
        )
    for device in history.devices:
        if thing not in (None, device.get("thing")):
            continue
        status = device.get("status") or {}
        missing = device.get("missing", [])
        lines.append(
            "device %s: %s since %s, last seen %s, %s, %d results, %s"
            % (
                device.get("thing"),
                status.get("status", "unknown"),
                _when(status.get("at")),
                _when(device.get("last_seen")),
                firmware_said(device.get("telemetry")),
                device.get("results", 0),
                missing_said(missing),
            )
        )
    return lines


def firmware_said(telemetry):
    """The firmware a device's last telemetry names (docs/protocol.md, "Telemetry"): null or absent is a
    development board's (the working tree flashed by cable)."""
    if telemetry is None:
        return "firmware not reported"
    return "firmware %s" % telemetry["firmware"] if telemetry.get("firmware") else "development firmware"


def missing_said(missing):
    """The device numbers its results 1, 2, 3, ... (seq): a number never received is a result missing here."""
    if not missing:
        return "none missing"
    return "missing: result%s number %s (sent by the device, never received)" % (
        "s" if len(missing) > 1 else "", ranges(missing))


SERIES = (
    ("left", "left bowl", {"color": "#1f77b4"}),
    ("right", "right bowl", {"color": "#ff7f0e"}),
    ("failed", "failed (not fed)", {"color": "#d62728", "hatch": "xx"}),
    ("unconfirmed", "unconfirmed (no answer)", {"color": "#7f7f7f", "hatch": "//"}),
)


def chart_series(counts):
    """The chart's bars: both bowls always, failed and unconfirmed only when some day has one (an empty
    series in the legend reads as if something had failed)."""
    return [entry for entry in SERIES if entry[0] in BOWLS or any(day[entry[0]] for day in counts)]


def chart(history, presses, first_day, last_day, path, things=None):
    """One panel per feeder of `things` (default: history.feeders(presses)), its presses' portions per
    day per bowl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    things = things or history.feeders(presses)
    names = {entry["thing"]: entry["name"] for entry in history.household["things"]}
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    x = range(len(days))
    figure, panels = plt.subplots(len(things), 1, figsize=(max(6, len(days) * 0.6), 1 + 3 * len(things)),
                                  squeeze=False)
    for thing, axes in zip(things, panels[:, 0], strict=True):
        per_day = history.per_day([p for p in presses if p["feeder"] == thing])
        counts = [per_day.get(day, {"left": 0, "right": 0, "failed": 0, "unconfirmed": 0}) for day in days]
        series = chart_series(counts)
        width = 0.2
        for n, (field, label, style) in enumerate(series):
            offset = (n - (len(series) - 1) / 2) * width
            axes.bar([i + offset for i in x], [c[field] for c in counts], width, label=label, **style)
        axes.set_xticks(list(x), [day.strftime("%m-%d") for day in days], rotation=45)
        axes.set_ylabel("portions / presses")
        named = "%s (%s)" % (names[thing], thing) if thing in names else thing
        axes.set_title("%s: portions per day per bowl, %s to %s (UTC)" % (named, first_day, last_day))
        axes.legend(fontsize="small")
        axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _midnight(day):
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def _when(moment):
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def ranges(numbers):
    spans, numbers = [], sorted(numbers)
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in spans)


def open_store(args, make_hint='make history HISTORY_ARGS="--data-dir DIR"'):
    """The projection `args` names: DynamoDB (--aws) or the hub's SQLite; both have get(key) and rows().
    Close it with close_store. Shared by `make history` and the web page (web/)."""
    if args.aws:
        from cloud.handlers.projector import DynamoStore

        return DynamoStore(session.AwsEnv.from_args(args).client("dynamodb"), args.table)
    from cloud.hub.hub import HISTORY_FILE
    from cloud.hub.projection import SqliteStore

    path = os.path.join(args.data_dir, HISTORY_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError("no hub history at %s: run the hub (make hub), or name the folder of the "
                                "hub you run (%s)" % (path, make_hint))
    return SqliteStore(path)


def close_store(store):
    if hasattr(store, "close"):
        store.close()


def rows_from(args):
    store = open_store(args)
    try:
        return list(store.rows())
    finally:
        close_store(store)


def _day(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a day YYYY-MM-DD, e.g. 2026-11-01, got %r" % text) \
            from None


def main(argv=None):
    parser = OneLineParser("history", prog="python -m cloud.history", description="the feeding history")
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=DEFAULT_DAYS - 1)
    parser.add_argument("--from", dest="first", type=_day, default=first, help="FROM= of make")
    parser.add_argument("--to", dest="last", type=_day, default=today, help="TO= of make")
    parser.add_argument("--png", default="history.png")
    parser.add_argument("--data-dir", default=".hub")
    parser.add_argument("--aws", action="store_true", help="read the DynamoDB table of the deployed stack")
    parser.add_argument("--table", default=TOPOLOGY["table"]["name"])
    parser.add_argument("--thing", help="one feeder of the household (default: every feeder)")
    parser.add_argument("--household", default=household_mod.PATH, help="the household file (default: none)")
    session.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.first > args.last:
        parser.error("--from %s is after --to %s" % (args.first, args.last))
    if args.first < FIRST_DAY or args.last > LAST_DAY:
        parser.error("--from, --to: expected days from %s to %s, the device's times" % (FIRST_DAY, LAST_DAY))
    try:
        known = household_mod.load(args.household)
        if args.thing is not None:
            household_mod.feeder(known, args.thing)
    except household_mod.HouseholdError as error:
        print("history: %s" % error, file=sys.stderr)
        return 2
    try:
        history = History(rows_from(args), time.time(), household=known)
    except session.AWS_FAILURES as error:
        return session.report("history", error, "HISTORY_ARGS")
    except FileNotFoundError as error:
        print("history: %s" % error, file=sys.stderr)
        return 1
    except Exception as error:  # no credentials, no table: one line, no traceback
        print("history: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        return 1
    presses = history.between(args.first, args.last, args.thing)
    for line in table(history, presses, args.thing):
        print(line)
    try:
        chart(history, presses, args.first, args.last, args.png, [args.thing] if args.thing else None)
    except OSError as error:  # no such folder, no permission, a full disk
        print("history: cannot write the chart %s: %s" % (args.png, error.strerror or error), file=sys.stderr)
        return 1
    print("history: %d presses from %s to %s%s; chart in %s"
          % (len(presses), args.first, args.last, " for %s" % args.thing if args.thing else "", args.png))
    return 0


if __name__ == "__main__":
    sys.exit(main())
