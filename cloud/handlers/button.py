"""Button handler: turns a button press into one `FeedRequested` event on the EventBridge bus.

Two inputs (docs/protocol.md, "Button press"):
- the AWS IoT 1-Click payload, kept only for compatibility (the service ended in Dec 2024):
  {"deviceInfo": {"deviceId": ...}, "deviceEvent": {"buttonClicked": {"clickType", "reportedTime"}}};
- a press published on `cat-feeder/<thing>/button`, delivered by the IoT topic rule, which adds
  `thing` from the topic: {"v": 1, "event", "at", "seq", "thing"}.

The event's detail carries a press id minted here with firmware/press.py, the function a feeder
uses for its own button (packed into this handler's zip as firmware/press.py); every later copy
(EventBridge retries, the archive, replays) carries the same id, and the device deduplicates by it.
An invalid press is logged and returned as `rejected`, never raised: Lambda would retry it for nothing.

`handle(event, context)` does the work with what a Context names (the bus, the events client); the Lambda
entry point `handler` builds that Context once from its environment, EVENT_BUS_NAME, EVENT_SOURCE,
EVENT_DETAIL_TYPE (set by the deployer from cloud/topology.py); the hub builds its own (cloud/hub/runtime.py).
"""

import functools
import json
import os
import time
from datetime import datetime, timezone

from cloud.handlers import bounds
from firmware.press import EVENTS, digest_id, press_id

PUT_ATTEMPTS = 4
BACKOFF_S = 0.1
CLIENT = "events"  # the client this handler takes (cloud/hub/runtime.py gives the hub's)


class InvalidPress(ValueError):
    """The input is not a button press this handler understands; nothing was put on the bus."""


class PutEventsFailed(RuntimeError):
    """Some entries were still failing after PUT_ATTEMPTS calls; raising lets Lambda retry the invocation."""


class Context:
    """What the handler needs besides the press: the events client, the bus and the event's source and
    type, where its log lines go, and how it waits between PutEvents attempts."""

    def __init__(self, events, environ, log=print, sleep=time.sleep):
        self.events = events
        self.bus_name = environ["EVENT_BUS_NAME"]
        self.source = environ["EVENT_SOURCE"]
        self.detail_type = environ["EVENT_DETAIL_TYPE"]
        self.log = log
        self.sleep = sleep


@functools.cache
def deployed():
    """The Lambda's Context, made on the first invocation (not at import, so boto3's import and the
    client's creation count as that invocation's, and the region comes from the environment)."""
    import boto3

    return Context(boto3.client("events"), os.environ)


def handler(event, lambda_context=None):
    return handle(event, deployed())


def handle(event, context):
    try:
        press = parse_press(event)
    except InvalidPress as error:
        context.log(json.dumps({"reason": str(error), "outcome": "rejected"}))
        return {"status": "rejected", "reason": str(error)}
    entry = {
        "EventBusName": context.bus_name,
        "Source": context.source,
        "DetailType": context.detail_type,
        "Time": datetime.fromtimestamp(press["pressed_at"], tz=timezone.utc),
        "Detail": json.dumps(press, separators=(",", ":")),
    }
    put_all(context.events, [entry], context.sleep)
    return {"press_id": press["press_id"], "event": press["event"]}


def parse_press(event):
    """Return the feed request detail for either input shape, or raise InvalidPress naming the field."""
    if not isinstance(event, dict):
        raise InvalidPress("press: expected a JSON object, got %s" % type(event).__name__)
    if "deviceEvent" in event:
        return _one_click_press(event)
    if "thing" in event:
        return _topic_press(event)
    raise InvalidPress("press: neither an IoT 1-Click payload (deviceEvent) nor a button message (thing)")


def _one_click_press(event):
    clicked = _field(event, ("deviceEvent", "buttonClicked"), dict)
    click = _event_name(_field(clicked, ("clickType",), str), "deviceEvent.buttonClicked.clickType")
    reported = _field(clicked, ("reportedTime",), str)
    device_info = event.get("deviceInfo")
    device = str(device_info.get("deviceId", "")) if isinstance(device_info, dict) else ""
    # Both are hashed into the id as UTF-8.
    for text in (device, reported):
        if len(text) > bounds.MAX_TEXT or not bounds.is_utf8(text):
            raise InvalidPress(
                "deviceInfo.deviceId, reportedTime: expected at most %d characters of UTF-8" % bounds.MAX_TEXT
            )
    try:
        pressed_at = datetime.fromisoformat(reported).timestamp()
    except ValueError as error:
        raise InvalidPress(
            "deviceEvent.buttonClicked.reportedTime: expected ISO-8601 UTC, got %r" % reported
        ) from error
    # Beyond the bounds the event's Time cannot be made (OverflowError), which Lambda would retry for nothing.
    if not bounds.MIN_TIME <= pressed_at <= bounds.MAX_TIME:
        raise InvalidPress("deviceEvent.buttonClicked.reportedTime: expected 1970 to 2106, got %r" % reported)
    # The id hashes the press's own content, not the Lambda request id: a 1-Click retry or a duplicate
    # delivery reaches a *new* invocation with a new request id, but always carries the same fields.
    return _detail("1-click", device, click, pressed_at, digest_id(("1-click", device, click, reported)))


def _topic_press(event):
    if event.get("v") != 1:
        raise InvalidPress("v: expected 1, got %r" % (event.get("v"),))
    thing = _field(event, ("thing",), str)
    click = _event_name(_field(event, ("event",), str), "event")
    # An integer: the canonical form of the id has no floats (an ESP32's are single precision).
    at = _field(event, ("at",), int)
    seq = _field(event, ("seq",), int)
    if not bounds.is_thing(thing):
        raise InvalidPress("thing: expected 1-%d characters from [A-Za-z0-9_-]" % bounds.MAX_THING)
    if not bounds.is_int(at, bounds.MIN_TIME, bounds.MAX_TIME):
        raise InvalidPress(
            "at: expected Unix seconds %d..%d, got %d" % (bounds.MIN_TIME, bounds.MAX_TIME, at)
        )
    # The device stores a press's seq as an unsigned 32-bit number: a larger one no device could send.
    if not bounds.is_int(seq, 0, bounds.MAX_SEQ):
        raise InvalidPress("seq: expected 0..%d" % bounds.MAX_SEQ)
    # Same reasoning as for 1-Click: MQTT QoS 1 may redeliver the message to the rule, which invokes again.
    # seq tells apart two presses within the same second; thing separates buttons.
    return _detail("button", thing, click, at, press_id(thing, click, at, seq))


def _detail(origin, button, click, pressed_at, minted_id):
    return {
        "v": 1,
        "press_id": minted_id,
        "event": click,
        "pressed_at": pressed_at,
        "origin": origin,
        "button": button,
    }


def _field(obj, path, expected_type):
    value = obj
    for depth, key in enumerate(path):
        if not isinstance(value, dict) or key not in value:
            raise InvalidPress("%s: missing" % ".".join(path[: depth + 1]))
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, expected_type):
        raise InvalidPress("%s: wrong type %s" % (".".join(path), type(value).__name__))
    return value


def _event_name(value, field_name):
    if value not in EVENTS:
        raise InvalidPress("%s: expected SINGLE, DOUBLE or LONG, got %r" % (field_name, value))
    return value


def put_all(client, entries, sleep=time.sleep):
    """PutEvents, re-sending only failed entries with exponential backoff; raise when they keep failing."""
    pending = list(entries)
    for attempt in range(PUT_ATTEMPTS):
        if attempt:
            sleep(BACKOFF_S * 2 ** (attempt - 1))
        results = client.put_events(Entries=pending)["Entries"]
        failed = [
            (entry, result) for entry, result in zip(pending, results, strict=True) if result.get("ErrorCode")
        ]
        if not failed:
            return
        pending = [entry for entry, _ in failed]
    errors = sorted({"%s: %s" % (r["ErrorCode"], r.get("ErrorMessage", "")) for _, r in failed})
    raise PutEventsFailed(
        "%d of %d entries failed after %d attempts: %s"
        % (len(pending), len(entries), PUT_ATTEMPTS, "; ".join(errors))
    )
