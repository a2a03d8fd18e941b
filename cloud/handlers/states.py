"""States handler: turns what a device says on its `cat-feeder/<thing>/states` (docs/protocol.md: result,
status, telemetry) into one event on the bus, with a source of its own, so the ledger holds outcomes as
well as presses.

    result    -> detail-type FeedResult
    status    -> detail-type DeviceStatus   (the broker's `offline` last will has no `at`: time of arrival)
    telemetry -> detail-type DeviceTelemetry
    schedule  -> detail-type ScheduleReported (what the device reported on its `schedule` shadow: the
                 topic rule on update/accepted, or the hub's shadow service, makes this message)
    job       -> UpdateSucceeded, UpdateRolledBack or UpdateFailed, with source EVENT_SOURCE (the hub's
                 update events, cloud/handlers/updates.py): AWS only, IoT Jobs' job execution event of an
                 update's job (topic rule `cat_feeder_job_outcomes` on $aws/events/jobExecution/+/+, with
                 the thing from `thingArn`); another job's event is answered `ignored`

A result of a scheduled feeding carries `"origin": "schedule"` and `due` (Unix seconds) and may be
`missed` or `skipped` (docs/protocol.md, "Schedule shadow").

The event time is the device's `at`. The detail is the message itself, validated field by field; an
invalid message is logged and answered `rejected` with the field named, and nothing is put on the bus.

On AWS the IoT topic rule on the states topics invokes this function; on the self-hosted hub the hub
calls it in-process with the same message. Both set `thing` from the topic (`topic(2) AS thing`), over
any `thing` in the payload, and the policy or ACL lets a certificate publish only on its own thing's
topic: so the `thing` here is trusted as the sender, and a device can write only its own history.
`handle(message, context)` does the work; the Lambda entry point `handler` builds the Context from its
environment (EVENT_BUS_NAME, DEVICE_EVENT_SOURCE), the hub builds its own (cloud/hub/runtime.py).
"""

import functools
import json
import os
import time
from datetime import datetime, timezone

from cloud.handlers import bounds, updates

DETAIL_TYPES = {
    "result": "FeedResult",
    "status": "DeviceStatus",
    "telemetry": "DeviceTelemetry",
    "schedule": "ScheduleReported",
}
STATUSES = ("dispensed", "duplicate", "expired", "capped", "interrupted", "rejected", "missed", "skipped")
CLOCKS = ("ntp", "untrusted")
MAX_SCHEDULE_VERSION = 2**31 - 1
BOWLS = ("left", "right")
CLIENT = "events"  # the client this handler takes (cloud/hub/runtime.py gives the hub's)
# Telemetry's counters (docs/protocol.md, "Telemetry"), each 0..bounds.MAX_COUNT when present.
COUNTERS = (
    "uptime_s",
    "heap_free",
    "outbox_depth",
    "dropped",
    "connect_failures",
    "max_portions_per_hour",
    "max_portions_per_day",
)


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
        self.update_source = environ.get("EVENT_SOURCE", "com.feedmyfurbabies")  # update events (jobs)
        self.log = log


@functools.cache
def deployed():
    """The Lambda's Context, made on the first invocation (as button.deployed)."""
    import boto3

    return Context(boto3.client("events"), os.environ)


def handler(event, lambda_context=None):
    return handle(event, deployed())


def handle(event, context):
    # Only the job rule's output has no `thing`: the states rule sets it from the topic on every device
    # message, so a device's payload shaped like a job event is judged (and rejected) as a state.
    if isinstance(event, dict) and event.get("type") == "job" and "thing" not in event:
        return _job(event, context)
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
    _put(context, entry)
    return {"status": "put", "detail_type": entry["DetailType"], "thing": message["thing"]}


def _put(context, entry):
    answer = context.events.put_events(Entries=[entry])
    if answer.get("FailedEntryCount"):
        failure = answer["Entries"][0]
        raise PutEventsFailed("%s: %s" % (failure.get("ErrorCode"), failure.get("ErrorMessage", "")))


def _job(event, context):
    """A job execution event (https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html) as the
    topic rule selects it: `job` (jobId), `thing_arn`, `status`, `details` (statusDetails), `at`."""
    arn, job_id = event.get("thing_arn"), event.get("job")
    thing = arn.rsplit(":thing/", 1)[-1] if isinstance(arn, str) and ":thing/" in arn else None
    version = updates.job_version(job_id)
    outcome = updates.update_event(None, event.get("status"), event.get("details"))
    at = event.get("at")
    if bounds.is_int(at, 10**11, bounds.MAX_TIME * 1000):  # AWS's event timestamps: ms, or s in examples
        at //= 1000
    known = bounds.is_thing(thing) and version and outcome
    if not (known and bounds.is_int(at, bounds.MIN_TIME, bounds.MAX_TIME)):
        context.log(json.dumps({"outcome": "ignored", "job": str(job_id)[:64],
                                "status": str(event.get("status"))}))
        return {"status": "ignored"}
    kind, extra = outcome
    entry = {
        "EventBusName": context.bus_name,
        "Source": context.update_source,
        "DetailType": kind,
        "Time": datetime.fromtimestamp(at, tz=timezone.utc),
        "Detail": json.dumps(updates.update_detail(thing, job_id, version, **extra), separators=(",", ":")),
    }
    _put(context, entry)
    return {"status": "put", "detail_type": kind, "thing": thing}


def parse_state(message):
    """Return the validated message (unknown fields kept), or raise InvalidState naming the field."""
    if not isinstance(message, dict):
        raise InvalidState("message: expected a JSON object, got %s" % type(message).__name__)
    # Unknown fields are kept, so the size is bounded as a whole (docs/protocol.md, "Bounds"), and the whole
    # must be JSON in UTF-8: the ledger, the history and the page carry it on.
    try:
        size = bounds.json_size(message)
    except ValueError:
        raise InvalidState("message: expected JSON text (no NaN, Infinity or lone surrogate)") from None
    if size > bounds.MAX_MESSAGE_BYTES:
        raise InvalidState("message: over %d bytes" % bounds.MAX_MESSAGE_BYTES)
    if not bounds.is_int(message.get("v"), 1, 1):
        raise InvalidState("v: expected 1, got %r" % (message.get("v"),))
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in DETAIL_TYPES:  # a list or an object is unhashable
        raise InvalidState("type: expected result, status, telemetry or schedule, got %r" % (kind,))
    if not bounds.is_thing(message.get("thing")):
        raise InvalidState(
            "thing: expected 1-%d characters from [A-Za-z0-9_-], got %r"
            % (bounds.MAX_THING, message.get("thing"))
        )
    if kind == "status":
        if message.get("status") not in ("online", "offline"):
            raise InvalidState("status: expected online or offline, got %r" % (message.get("status"),))
        if "at" in message or message["status"] == "online":
            _time(message)
    elif kind == "telemetry":
        _time(message)
        _telemetry(message)
    elif kind == "schedule":
        _time(message)
        _schedule(message)
    else:
        _result(message)
    return message


def _result(message):
    _time(message)
    seq = message.get("seq")
    if not bounds.is_int(seq, 0, bounds.MAX_SEQ):
        raise InvalidState("seq: expected an integer 0..%d, got %r" % (bounds.MAX_SEQ, seq))
    if message.get("id") is not None and not bounds.is_id(message["id"]):
        raise InvalidState(
            "id: expected null or 1-%d characters from [A-Za-z0-9_.:-], got %r"
            % (bounds.MAX_ID, message["id"])
        )
    if message.get("status") not in STATUSES:
        raise InvalidState(
            "status: expected one of %s, got %r" % (", ".join(STATUSES), message.get("status"))
        )
    bowls = message.get("bowls")
    # Each bowl at most once: the history and the page count a portion per bowl listed.
    listed = isinstance(bowls, list) and all(bowl in BOWLS for bowl in bowls)
    if not listed or len(set(bowls)) != len(bowls):
        raise InvalidState("bowls: expected a list of left/right, each at most once, got %r" % (bowls,))
    if "reason" in message:
        _text(message, "reason")
    if "origin" in message and message["origin"] != "schedule":
        raise InvalidState("origin: expected schedule (or none), got %r" % (message["origin"],))
    if "due" in message and not bounds.is_int(message["due"], bounds.MIN_TIME, bounds.MAX_TIME):
        raise InvalidState("due: expected integer Unix seconds, got %r" % (message["due"],))


def _schedule(message):
    """The version the device runs (or still runs, when it refused a newer one: `error`), its clock."""
    if not bounds.is_int(message.get("version"), 0, MAX_SCHEDULE_VERSION):
        raise InvalidState("version: expected an integer 0..%d, got %r"
                           % (MAX_SCHEDULE_VERSION, message.get("version")))
    if message.get("clock") is not None and message["clock"] not in CLOCKS:
        raise InvalidState("clock: expected ntp or untrusted, got %r" % (message["clock"],))
    if message.get("error") is not None:
        _text(message, "error")


def _telemetry(message):
    for field in COUNTERS:
        if field in message and not bounds.is_int(message[field], 0, bounds.MAX_COUNT):
            raise InvalidState(
                "%s: expected an integer 0..%d, got %r" % (field, bounds.MAX_COUNT, message[field])
            )
    if message.get("last_error") is not None:
        _text(message, "last_error")


def _text(message, field):
    value = message.get(field)
    if not bounds.is_text(value):
        raise InvalidState(
            "%s: expected a string of 1-%d characters, got %r" % (field, bounds.MAX_TEXT, value)
        )


def _time(message):
    # An integer, as the device sends it: its floats are single precision.
    at = message.get("at")
    if not bounds.is_int(at, bounds.MIN_TIME, bounds.MAX_TIME):
        raise InvalidState(
            "at: expected integer Unix seconds %d..%d, got %r" % (bounds.MIN_TIME, bounds.MAX_TIME, at)
        )
