"""Projector: folds ledger events into the feeding history, one row per press and one per device.

    press row  (key press#<press id>): event, bowls, requested_at, button; the device's outcome
               (dispensed, duplicate, expired, capped, interrupted, rejected), outcome_at, fed bowls,
               reason; the result seqs counted (`thing:seq`, sorted).
    schedule row (key schedule#<thing>): the ScheduleChanged of the highest version (its schedule, tz,
               action, origin, changed_at), and `reported`, the highest version the device reported
               (ScheduleReported: version, clock, error, at). A scheduled feeding's result makes a press
               row of its own id (sch-...), with origin `schedule` and `due` as its requested_at.
    device row (key device#<thing>): last status (online/offline, see _status_order) and its time, last
               seen, the seqs received (runs), the highest, the highest MAX_GAPS of those missing below
               it (gaps), results and rejections counted, last telemetry; `updates`, per job of an update
               over the air, each phase's event (offered, started, ended: `at`, version, and the size
               offered, the outcome and reason it ended with).

Order-independent and idempotent: a row is a function of the set of events applied to it, so the
events in any order, with any of them delivered twice, redelivered by a rule or replayed into the same
table, give the same row, byte for byte (tests/cloud/test_cloud_projection_order.py). A press is keyed
by its id and a result by (thing, seq), which names one result. Each field is decided by an order on
the events, never by their arrival: a press's outcome is the first answer in _answer_order (what the
device fed, then capped/expired/rejected, then `duplicate`; the earliest `at`; then the content), a
device's status the last in _status_order, lists are kept sorted. StartReplay does not promise the
original order, so this is what makes a hydrated table, the hub's rebuild and the live table agree.
Whether a press without an outcome is `unconfirmed` depends on the clock, so it is decided when the
history is read (`outcome_as_of`), never stored: a table rebuilt to time T equals the live table as it
was at T.

The same code runs on AWS (a Lambda behind the `history` rule, writing DynamoDB: `handler` builds its
Context from the environment) and on the self-hosted hub (called in-process as `handle` with a Context
holding a SQLite store, cloud/hub/runtime.py). A store has `get(key)` ->
(doc, version) and `put(key, doc, version, requested_at)`, which fails with StoreConflict when the
row's version moved meanwhile (two writers): the projector then reads again.

On AWS, cloud/aws/hydrate.py fills a brand-new table `<HISTORY_TABLE>-<replay>` through a rule of its own
that sends `{"table": <that table>, "event": <the replayed event>}`; no other table is written.

Environment: HISTORY_TABLE (AWS).
"""

import bisect
import functools
import json
import math
import os
from datetime import datetime

MAX_GAPS = 1000  # the missing seqs a device row lists (the highest); `received` holds them all, as runs
CONFLICT_RETRIES = 5
FED = ("dispensed", "interrupted")
WILL_SLACK_S = 5
# The bowls each event feeds: the cloud's one copy of the firmware's command.EVENTS (bit masks there),
# tied to it by tests/cloud/test_cloud_invariants.py.
BOWLS = {"SINGLE": ("left",), "DOUBLE": ("right",), "LONG": ("left", "right")}
CLIENT = "store"  # the client this handler takes (cloud/hub/runtime.py gives the hub's)
# The update events (cloud/topology.py's names, tied by tests/cloud/test_cloud_invariants.py: this module
# is packed alone) and the phase of its job each records; an ending's outcome.
UPDATE_PHASES = {"UpdateOffered": "offered", "UpdateStarted": "started", "UpdateSucceeded": "ended",
                 "UpdateRolledBack": "ended", "UpdateFailed": "ended"}
UPDATE_OUTCOMES = {"UpdateSucceeded": "succeeded", "UpdateRolledBack": "rolled_back",
                   "UpdateFailed": "failed"}


class StoreConflict(RuntimeError):
    """The row changed between get and put."""


class DynamoStore:
    """A DynamoDB table (on-demand) keyed by `key`; the doc is kept as JSON text (no Decimal conversions)."""

    def __init__(self, client, table):
        self.client = client
        self.table = table

    def get(self, key):
        item = self.client.get_item(TableName=self.table, Key={"key": {"S": key}}, ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return None, 0
        return json.loads(item["doc"]["S"]), int(item["version"]["N"])

    def put(self, key, doc, version, requested_at=None):
        item = {
            "key": {"S": key},
            "doc": {"S": json.dumps(doc, sort_keys=True)},
            "version": {"N": str(version + 1)},
        }
        if requested_at is not None:
            item["requested_at"] = {"N": repr(requested_at)}
        # `key` is a reserved word (aliased); DynamoDB refuses an empty or unused alias map.
        if version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(#k)"}
            condition["ExpressionAttributeNames"] = {"#k": "key"}
        else:
            condition = {"ConditionExpression": "version = :v"}
            condition["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise StoreConflict(key) from error

    def rows(self):
        pages = self.client.get_paginator("scan").paginate(TableName=self.table, ConsistentRead=True)
        for page in pages:
            for item in page["Items"]:
                yield item["key"]["S"], json.loads(item["doc"]["S"])


class Context:
    """What the projector needs besides the event: the history store, its table's name (a hydrate's
    table is named after it), where its log lines go."""

    def __init__(self, store, environ, log=print):
        self.store = store
        self.history_table = environ["HISTORY_TABLE"]
        self.log = log


@functools.cache
def deployed():
    """The Lambda's Context, made on the first invocation (as button.deployed)."""
    import boto3

    return Context(DynamoStore(boto3.client("dynamodb"), os.environ["HISTORY_TABLE"]), os.environ)


def handler(event, lambda_context=None):
    return handle(event, deployed())


def handle(event, context):
    if isinstance(event, dict) and "table" in event and "event" in event:
        # A hydrate (cloud/aws/hydrate.py): its own rule wraps each replayed event with the new table's name.
        table = event["table"]
        if not isinstance(table, str) or not table.startswith(context.history_table + "-"):
            reason = "table %r is not a history table" % (table,)
            context.log(json.dumps({"outcome": "rejected", "reason": reason}))
            return {"status": "rejected", "reason": reason}
        return {"status": project(DynamoStore(context.store.client, table), event["event"])}
    return {"status": project(context.store, event)}


def project(target, event):
    """Apply one event to the store; returns what happened ("press", "result", "ignored", ...)."""
    kind = event.get("detail-type")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return "ignored"
    if kind == "FeedRequested" and isinstance(detail.get("press_id"), str):
        return _update(target, "press#" + detail["press_id"], _requested, detail)
    if kind == "FeedResult" and isinstance(detail.get("thing"), str):
        device_change = _update(target, "device#" + detail["thing"], _device_result, detail)
        if isinstance(detail.get("id"), str):
            return _update(target, "press#" + detail["id"], _press_result, detail)
        return device_change
    if kind == "ScheduleChanged" and isinstance(detail.get("thing"), str):
        return _update(target, "schedule#" + detail["thing"], _schedule_changed, (detail, event.get("time")))
    if kind == "ScheduleReported" and isinstance(detail.get("thing"), str):
        return _update(target, "schedule#" + detail["thing"], _schedule_reported, detail)
    if kind in ("DeviceStatus", "DeviceTelemetry") and isinstance(detail.get("thing"), str):
        if "at" in detail:
            moment = detail["at"]
        else:  # a last will: its time is its arrival (see _status_order)
            moment = _seconds(event.get("time"))
            detail = dict(detail, will=True)
        return _update(target, "device#" + detail["thing"], _device_status, (kind, detail, moment))
    if kind in UPDATE_PHASES and isinstance(detail.get("thing"), str) and isinstance(detail.get("job"), str):
        return _update(target, "device#" + detail["thing"], _device_update,
                       (kind, detail, _seconds(event.get("time"))))
    return "ignored"


def _update(target, key, change, argument):
    for _ in range(CONFLICT_RETRIES):
        doc, version = target.get(key)
        doc = change(doc or {}, argument)
        if doc is None:
            return "unchanged"
        try:
            target.put(key, doc, version, doc.get("requested_at"))
            return key.split("#", 1)[0]
        except StoreConflict:
            continue
    raise StoreConflict("%s kept changing under %d attempts" % (key, CONFLICT_RETRIES))


def _requested(doc, detail):
    request = {
        "press_id": detail["press_id"],
        "event": detail.get("event"),
        "bowls": _bowls(detail.get("event")),
        "requested_at": detail.get("pressed_at"),
        "button": detail.get("button"),
    }
    # A press id is minted from the press's content, so every copy carries the same request; should two
    # differ all the same, the smaller in canonical JSON is kept, whichever arrived first.
    if "event" in doc and _canonical(request) >= _canonical({name: doc.get(name) for name in request}):
        return None
    doc.update(request)
    doc.setdefault("outcome", None)
    return doc


def _press_result(doc, detail):
    mark = "%s:%s" % (detail["thing"], detail.get("seq"))
    seen = doc.get("result_seqs", [])
    if mark in seen:
        return None
    doc["result_seqs"] = sorted(seen + [mark], key=_mark_order)
    doc.setdefault("press_id", detail["id"])
    doc.setdefault("outcome", None)
    if detail.get("origin") == "schedule" and _is_time(detail.get("due")):
        doc.update(origin="schedule", requested_at=detail["due"])
    status = detail.get("status")
    if status == "duplicate":
        doc["duplicates"] = doc.get("duplicates", 0) + 1
    answer = {
        "outcome": status,
        "outcome_at": detail.get("at"),
        "fed_bowls": detail.get("bowls", []),
        "reason": detail.get("reason"),
    }
    if ANSWERED not in doc or _answer_order(answer) < _answer_order(doc):
        doc.update(answer)
    return doc


ANSWER = ("outcome", "outcome_at", "fed_bowls", "reason")  # the fields a press's deciding answer sets
ANSWERED = "fed_bowls"  # set with any answer; `outcome` alone cannot tell (an answer may lack a status)


def _mark_order(mark):
    """`thing:seq` marks by thing, then seq in numeric order."""
    thing, _, seq = mark.rpartition(":")
    return thing, len(seq), seq


def _answer_order(answer):
    """The press's outcome is the answer that comes first in this order, whatever order answers arrive in.

    What the device fed (`dispensed`, `interrupted`) first: the device remembers it and feeds at most once
    per id, while a `capped` or `expired` command delivered again within its TTL is decided again and may
    feed then. Then any other decision (`capped`, `expired`, `rejected`); `duplicate` last. Among answers
    of one rank the earliest `at` (the device's clock), then the content in canonical JSON."""
    at = answer["outcome_at"]
    timed = _is_time(at)
    rank = 0 if answer["outcome"] in FED else 2 if answer["outcome"] == "duplicate" else 1
    return (rank, not timed, at if timed else 0, _canonical([answer[name] for name in ANSWER]))


def _schedule_changed(doc, argument):
    """The change of the highest version; of two with one version (never written twice on the hub,
    possible on AWS when two people save at once) the smaller in canonical JSON."""
    detail, moment = argument
    version = detail.get("version")
    if not _is_time(version):
        return None
    change = {name: detail.get(name) for name in ("version", "action", "schedule", "tz", "origin")}
    change["changed_at"] = _seconds(moment)
    current = doc.get("changed")
    if current is not None and (-current["version"], _canonical(current)) <= (-version, _canonical(change)):
        return None
    doc["thing"] = detail["thing"]
    doc["changed"] = change
    return doc


def _schedule_reported(doc, detail):
    """The highest version the device reported; of one version, the earliest report."""
    report = {name: detail.get(name) for name in ("version", "clock", "error", "at")}
    current = doc.get("reported")
    if not _is_time(report["version"]) or not _is_time(report["at"]):
        return None
    if current is not None and (-current["version"], current["at"], _canonical(current)) <= (
            -report["version"], report["at"], _canonical(report)):
        return None
    doc["thing"] = detail["thing"]
    doc["reported"] = report
    return doc


def _device_result(doc, detail):
    seq = detail.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        return None
    received = _received(doc)
    if _holds(received, seq):
        return None  # a result already counted
    doc.setdefault("thing", detail["thing"])
    doc["received"] = received = _with(received, seq)
    doc["max_seq"] = received[-1][1]
    doc["missing"] = _highest_missing(received, MAX_GAPS)
    doc["results"] = doc.get("results", 0) + 1
    if detail.get("status") == "rejected":
        doc["rejected"] = doc.get("rejected", 0) + 1
    _seen(doc, detail.get("at"))
    return doc


def _received(doc):
    """The seqs received, as sorted runs [first, last] with a gap between any two; a jump of millions
    costs one run. A row written before `received` existed: every seq up to max_seq but the missing."""
    if "received" in doc:
        return doc["received"]
    runs, first = [], 1
    for gap in sorted(doc.get("missing", [])) + [doc.get("max_seq", 0) + 1]:
        if gap > first:
            runs.append([first, gap - 1])
        first = gap + 1
    return runs


def _holds(runs, seq):
    index = bisect.bisect_right(runs, [seq, math.inf]) - 1
    return index >= 0 and runs[index][0] <= seq <= runs[index][1]


def _with(runs, seq):
    runs = [list(run) for run in runs]
    index = bisect.bisect_right(runs, [seq, math.inf])
    runs.insert(index, [seq, seq])
    if index + 1 < len(runs) and runs[index + 1][0] == seq + 1:
        runs[index][1] = runs.pop(index + 1)[1]
    if index > 0 and runs[index - 1][1] == seq - 1:
        runs[index - 1][1] = runs.pop(index)[1]
    return runs


def _highest_missing(runs, limit):
    """The seqs below the highest received that never arrived, the `limit` highest of them, ascending."""
    missing = []
    for index in range(len(runs) - 1, -1, -1):
        low, high = (runs[index - 1][1] + 1 if index else 1), runs[index][0] - 1
        missing.extend(range(high, max(low, high - (limit - len(missing)) + 1) - 1, -1))
        if len(missing) >= limit:
            break
    return missing[::-1]


def _device_status(doc, argument):
    kind, detail, moment = argument
    if not _is_time(moment):
        return None
    field = "status" if kind == "DeviceStatus" else "telemetry"
    candidate, current = dict(detail, at=moment), doc.get(field)
    replaces = current is None or _status_order(candidate) > _status_order(current)
    if not replaces and not _later(moment, doc.get("last_seen", 0)):
        return None
    doc.setdefault("thing", detail["thing"])
    if replaces:
        doc[field] = candidate
    _seen(doc, moment)
    return doc


def _device_update(doc, argument):
    """A job's phase is its earliest event of that phase (then the smaller in canonical JSON): on the hub a
    phase has one event; should a job end twice all the same, the same ending is kept in any order.
    Every job is kept: updates are rare, and a row that dropped old ones would depend on the order."""
    kind, detail, moment = argument
    record = {"at": moment, "version": detail.get("version")}
    if kind == "UpdateOffered":
        record["size"] = detail.get("size")
    if kind in UPDATE_OUTCOMES:
        record.update(outcome=UPDATE_OUTCOMES[kind], reason=detail.get("reason"))
    phases = doc.get("updates", {}).get(detail["job"], {})
    current = phases.get(UPDATE_PHASES[kind])
    if current is not None and (current["at"], _canonical(current)) <= (moment, _canonical(record)):
        return None
    doc.setdefault("thing", detail["thing"])
    doc.setdefault("updates", {})[detail["job"]] = dict(phases, **{UPDATE_PHASES[kind]: record})
    return doc


def _status_order(status):
    """A status (or telemetry) replaces the current one when it comes later in this order: its time, then
    its content in canonical JSON.

    An `offline` last will carries no time of its own: its moment is when it arrived (`will` marks it).
    A broker sends the will of a session the device has just taken over by reconnecting around the
    time of the device's new `online`, in either order: a will counts WILL_SLACK_S earlier than it
    arrived, so within that slack (bounds included) the device's own `online` wins."""
    will = bool(status.get("will"))
    return status["at"] - (WILL_SLACK_S if will else 0), not will, _canonical(status)


def _seen(doc, moment):
    if _is_time(moment) and _later(moment, doc.get("last_seen", 0)):
        doc["last_seen"] = moment


def _later(moment, than):
    """Of two equal moments (1795000000 and 1795000000.0) the integer is the later, whatever came first."""
    return (moment, type(moment) is int) > (than, type(than) is int)


def _is_time(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _bowls(event):
    return list(BOWLS.get(event, ()))


def _seconds(text):
    try:
        return datetime.fromisoformat(text).timestamp()
    except (AttributeError, ValueError):
        return 0


def answered_by(press):
    """The feeder that answered the press: the thing of its first result (`result_seqs`, sorted by
    thing), taken from the states topic the result came on; None before any answer. Read from the row
    as it is, so rows projected before this existed give it too."""
    marks = press.get("result_seqs") or []
    return marks[0].rpartition(":")[0] if marks else None


def outcome_as_of(press, as_of, ttl_s):
    """The press's outcome as the history shows it at as_of: the device's answer, `unconfirmed` once
    its TTL passed without one, else `pending`."""
    if press.get("outcome"):
        return press["outcome"]
    requested = press.get("requested_at")
    if requested is not None and as_of > requested + ttl_s:
        return "unconfirmed"
    return "pending"
