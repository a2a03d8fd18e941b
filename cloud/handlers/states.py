"""States handler: turns what the device says on `cat-feeder/states` (docs/protocol.md: result, status,
telemetry) into one event on the bus, with a source of its own, so the ledger holds outcomes as well
as presses.

    result    -> detail-type FeedResult
    status    -> detail-type DeviceStatus   (the broker's `offline` last will has no `at`: time of arrival)
    telemetry -> detail-type DeviceTelemetry

The event time is the device's `at`. The detail is the message itself, validated field by field; an
invalid message is logged and answered `rejected` with the field named, and nothing is put on the bus.

On AWS the IoT topic rule on the states topic invokes this function; on the self-hosted hub the hub
calls it in-process with the same message. `handle(message, context)` does the work; the Lambda entry
point `handler` builds the Context from its environment (EVENT_BUS_NAME, DEVICE_EVENT_SOURCE), the hub
builds its own (cloud/hub/runtime.py).
"""

import functools
import json
import os
import time
from datetime import datetime, timezone

DETAIL_TYPES = {"result": "FeedResult", "status": "DeviceStatus", "telemetry": "DeviceTelemetry"}
STATUSES = ("dispensed", "duplicate", "expired", "capped", "interrupted", "rejected")
BOWLS = ("left", "right")
MAX_TEXT = 256
CLIENT = "events"  # the client this handler takes (cloud/hub/runtime.py gives the hub's)


class InvalidState(ValueError):
    """The message is not a result, status or telemetry message of protocol v1; nothing was put on the bus."""


class PutEventsFailed(RuntimeError):
    """PutEvents refused the entry; raising lets Lambda retry and then use its on-failure destination."""


class Context:
    """What the handler needs besides the message: the events client, the bus, the source, the log."""

    def __init__(self, events, environ, log=print):
        self.events = events
        self.bus_name = environ["EVENT_BUS_NAME"]
        self.source = environ["DEVICE_EVENT_SOURCE"]
        self.log = log


@functools.cache
def deployed():
    """The Lambda's Context, made on the first invocation (as button.deployed)."""
    import boto3

    return Context(boto3.client("events"), os.environ)


def handler(event, lambda_context=None):
    return handle(event, deployed())


def handle(event, context):
    try:
        message = parse_state(event)
    except InvalidState as error:
        # Logged and answered, not raised: a retry could not fix it.
        context.log(json.dumps({"outcome": "rejected", "reason": str(error)}))
        return {"status": "rejected", "reason": str(error)}
    at = message.get("at", time.time())
    entry = {
        "EventBusName": context.bus_name,
        "Source": context.source,
        "DetailType": DETAIL_TYPES[message["type"]],
        "Time": datetime.fromtimestamp(at, tz=timezone.utc),
        "Detail": json.dumps(message, separators=(",", ":")),
    }
    answer = context.events.put_events(Entries=[entry])
    if answer.get("FailedEntryCount"):
        failure = answer["Entries"][0]
        raise PutEventsFailed("%s: %s" % (failure.get("ErrorCode"), failure.get("ErrorMessage", "")))
    return {"status": "put", "detail_type": entry["DetailType"], "thing": message["thing"]}


def parse_state(message):
    """Return the validated message (unknown fields kept), or raise InvalidState naming the field."""
    if not isinstance(message, dict):
        raise InvalidState("message: expected a JSON object, got %s" % type(message).__name__)
    if message.get("v") != 1 or isinstance(message.get("v"), bool):
        raise InvalidState("v: expected 1, got %r" % (message.get("v"),))
    kind = message.get("type")
    if kind not in DETAIL_TYPES:
        raise InvalidState("type: expected result, status or telemetry, got %r" % (kind,))
    _text(message, "thing")
    if kind == "status":
        if message.get("status") not in ("online", "offline"):
            raise InvalidState("status: expected online or offline, got %r" % (message.get("status"),))
        if "at" in message or message["status"] == "online":
            _time(message)
    elif kind == "telemetry":
        _time(message)
    else:
        _result(message)
    return message


def _result(message):
    _time(message)
    seq = message.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidState("seq: expected an integer >= 0, got %r" % (seq,))
    if message.get("id") is not None:
        _text(message, "id")
    if message.get("status") not in STATUSES:
        raise InvalidState(
            "status: expected one of %s, got %r" % (", ".join(STATUSES), message.get("status"))
        )
    bowls = message.get("bowls")
    if not isinstance(bowls, list) or any(bowl not in BOWLS for bowl in bowls):
        raise InvalidState("bowls: expected a list of left/right, got %r" % (bowls,))
    if "reason" in message:
        _text(message, "reason")


def _text(message, field):
    value = message.get(field)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise InvalidState("%s: expected a string of 1-%d characters, got %r" % (field, MAX_TEXT, value))


def _time(message):
    at = message.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 < at < 2**32:
        raise InvalidState("at: expected Unix seconds, got %r" % (at,))
