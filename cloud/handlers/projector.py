"""Projector: folds ledger events into the feeding history, one row per press and one per device.

    press row  (key press#<press id>): event, bowls, requested_at, button; the device's outcome
               (dispensed, duplicate, expired, capped, interrupted, rejected), outcome_at, fed bowls,
               reason; the result seqs already counted.
    device row (key device#<thing>): last status (online/offline, see _newer_status) and its time, last
               seen, highest result seq, the seqs missing below it (gaps), results and rejections
               counted, last telemetry.

Idempotent: a press is keyed by its id and a result by (thing, seq), so an event delivered twice,
redelivered by a rule or replayed into the same table changes nothing the second time. The first
answer decides a press's outcome, except that a later `dispensed` or `interrupted` replaces a `capped`,
`expired` or `rejected` one (see _decides); `duplicate` answers are counted. Whether a
press without an outcome is `unconfirmed` depends on the clock, so it is decided when the history is
read (`outcome_as_of`), never stored: a table rebuilt to time T equals the live table as it was at T.

The same code runs on AWS (a Lambda behind the `history` rule, writing DynamoDB; `store()`) and on the
self-hosted hub (called in-process, `store()` replaced by a SQLite store). A store has `get(key)` ->
(doc, version) and `put(key, doc, version, requested_at)`, which fails with StoreConflict when the
row's version moved meanwhile (two writers): the projector then reads again.

On AWS, cloud/hydrate.py fills a brand-new table `<HISTORY_TABLE>-<replay>` through a rule of its own
that sends `{"table": <that table>, "event": <the replayed event>}`; no other table is written.

Environment: HISTORY_TABLE (AWS).
"""

import functools
import json
import os
from datetime import datetime

MAX_GAPS = 1000  # a device whose seq jumped by millions (a reset counter) must not grow a row forever
CONFLICT_RETRIES = 5
FED = ("dispensed", "interrupted")
WILL_SLACK_S = 5


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


@functools.cache
def store():
    import boto3

    return DynamoStore(boto3.client("dynamodb"), os.environ["HISTORY_TABLE"])


def handler(event, context=None):
    if isinstance(event, dict) and "table" in event and "event" in event:
        # A hydrate (cloud/hydrate.py): its own rule wraps each replayed event with the new table's name.
        table = event["table"]
        if not isinstance(table, str) or not table.startswith(os.environ["HISTORY_TABLE"] + "-"):
            print(json.dumps({"outcome": "rejected", "reason": "table %r is not a history table" % (table,)}))
            return {"status": "rejected", "reason": "table %r is not a history table" % (table,)}
        return {"status": project(DynamoStore(store().client, table), event["event"])}
    return {"status": project(store(), event)}


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
    if kind in ("DeviceStatus", "DeviceTelemetry") and isinstance(detail.get("thing"), str):
        if "at" in detail:
            moment = detail["at"]
        else:  # a last will: its time is its arrival (see _newer_status)
            moment = _seconds(event.get("time"))
            detail = dict(detail, will=True)
        return _update(target, "device#" + detail["thing"], _device_status, (kind, detail, moment))
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
    if doc.get("requested_at") is not None:
        return None
    doc.update(
        press_id=detail["press_id"],
        event=detail.get("event"),
        bowls=_bowls(detail.get("event")),
        requested_at=detail.get("pressed_at"),
        button=detail.get("button"),
    )
    doc.setdefault("outcome", None)
    return doc


def _press_result(doc, detail):
    mark = "%s:%s" % (detail["thing"], detail.get("seq"))
    seen = doc.setdefault("result_seqs", [])
    if mark in seen:
        return None
    seen.append(mark)
    doc.setdefault("press_id", detail["id"])
    doc.setdefault("outcome", None)
    status = detail.get("status")
    if status == "duplicate":
        doc["duplicates"] = doc.get("duplicates", 0) + 1
    if _decides(doc["outcome"], status):
        doc.update(
            outcome=status,
            outcome_at=detail.get("at"),
            fed_bowls=detail.get("bowls", []),
            reason=detail.get("reason"),
        )
    return doc


def _decides(current, status):
    """Whether a result's status becomes the press's outcome. The device remembers only what it fed
    (`dispensed`, `interrupted`): a `capped` or `expired` command delivered again within its TTL is
    decided again and may feed then, and that answer wins. `duplicate` never replaces an answer."""
    if current is None:
        return True
    if current in FED:
        return False
    return status in FED or (current == "duplicate" and status != "duplicate")


def _device_result(doc, detail):
    seq = detail.get("seq")
    if not isinstance(seq, int):
        return None
    doc.setdefault("thing", detail["thing"])
    top = doc.get("max_seq", 0)
    missing = doc.setdefault("missing", [])
    if seq > top:
        missing.extend(range(top + 1, min(seq, top + 1 + MAX_GAPS)))
        del missing[:-MAX_GAPS]
        doc["max_seq"] = seq
    elif seq in missing:
        missing.remove(seq)
    else:
        return None  # a result already counted
    doc["results"] = doc.get("results", 0) + 1
    if detail.get("status") == "rejected":
        doc["rejected"] = doc.get("rejected", 0) + 1
    _seen(doc, detail.get("at"))
    return doc


def _device_status(doc, argument):
    kind, detail, moment = argument
    doc.setdefault("thing", detail["thing"])
    field = "status" if kind == "DeviceStatus" else "telemetry"
    current = doc.get(field)
    if current is not None and not _newer_status(current, detail, moment):
        return None
    doc[field] = dict(detail, at=moment)
    _seen(doc, moment)
    return doc


def _newer_status(current, detail, moment):
    """Whether a status (or telemetry) at `moment` replaces the current one.

    An `offline` last will carries no time of its own: its moment is when it arrived (`will` marks it).
    A broker sends the will of a session the device has just taken over by reconnecting around the
    time of the device's new `online`, in either order: within WILL_SLACK_S of each other, the
    device's own `online` wins."""
    if abs(moment - current["at"]) <= WILL_SLACK_S:
        if detail.get("will") and current.get("status") == "online":
            return False
        if current.get("will") and detail.get("status") == "online":
            return True
    return moment > current["at"]


def _seen(doc, moment):
    if isinstance(moment, (int, float)) and moment > doc.get("last_seen", 0):
        doc["last_seen"] = moment


def _bowls(event):
    return {"SINGLE": ["left"], "DOUBLE": ["right"], "LONG": ["left", "right"]}.get(event, [])


def _seconds(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return 0


def outcome_as_of(press, as_of, ttl_s):
    """The press's outcome as the history shows it at as_of: the device's answer, `unconfirmed` once
    its TTL passed without one, else `pending`."""
    if press.get("outcome"):
        return press["outcome"]
    requested = press.get("requested_at")
    if requested is not None and as_of > requested + ttl_s:
        return "unconfirmed"
    return "pending"
