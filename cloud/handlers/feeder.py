"""Feeder function: turns a live `feeds` event into a v1 command (docs/protocol.md) and publishes it
to the target feeder's own action topic, cat-feeder/<thing>/action, through IoT Core's data plane
(iot-data Publish, QoS 1). The target is the thing whose button was pressed (the press's `button`), or,
for a remote button board, the feeder the household file maps it to (BUTTON_ROUTES, cloud/household.py);
a press from an IoT 1-Click button names no thing and goes to DEFAULT_FEEDER. It holds no device
certificate: IAM allows it `iot:Publish` on the action topics and nothing else there.

Idempotent by press id: the command is a pure function of the event (id = press id, issued_at = press
time, ttl fixed), so a retried or redelivered event publishes a byte-identical command, and the device,
which journals every id in flash before a servo moves, dispenses it once. A conditional-write record
here (e.g. a DynamoDB put) cannot do better: written before the publish, a publish failure would
swallow the feed on retry; written after, a crash between the two still publishes twice. It would only
add a table, IAM rights and a failure mode for duplicates the device already absorbs.

Replays of the archive must never feed: the rule excludes them ("replay-name": [{"exists": false}])
and this function refuses them again. A malformed event is logged and returned as `rejected`: a retry
could not fix it. Only what a retry may fix raises (a failed publish, a missing endpoint), so Lambda
retries it and then parks the event in the on-failure destination (an SQS queue, see cloud/topology.py).

`handle(event, context)` does the work; the Lambda entry point `handler` builds the Context from its
environment: ACTION_TOPIC (with `{thing}` for the target), DEFAULT_FEEDER, BUTTON_ROUTES (compact JSON,
remote button -> feeder), EVENT_SOURCE, COMMAND_TTL_S,
IOT_DATA_ENDPOINT (the account's iot:Data-ATS
endpoint as https://... URL), set by the deployer from cloud/topology.py. The hub builds its own
(cloud/hub/runtime.py).
"""

import functools
import json
import math
import os
import re
import time

from cloud.handlers import bounds
from firmware.press import EVENTS

PRESS_ID = re.compile(r"[A-Za-z0-9_.:-]{1,%d}\Z" % bounds.MAX_ID)
CLIENT = "iot_data"  # the client this handler takes (cloud/hub/runtime.py gives the hub's)


class MalformedFeed(ValueError):
    """The event is not a feed request this function can turn into a command."""


class MissingEndpoint(RuntimeError):
    """IOT_DATA_ENDPOINT is not set; the generic iot-data endpoint is not the account's ATS endpoint."""


class Context:
    """What the function needs besides the event: the iot-data client (None when no endpoint is set),
    the action topic's template, the feeder of presses that name no thing, the feeder of each remote
    button, the expected source, the commands' TTL, where its log lines go."""

    def __init__(self, iot_data, environ, log=print):
        self.iot_data = iot_data
        self.action_topic = environ["ACTION_TOPIC"]
        self.default_feeder = environ["DEFAULT_FEEDER"]
        self.button_routes = json.loads(environ["BUTTON_ROUTES"])
        self.source = environ["EVENT_SOURCE"]
        self.ttl_s = int(environ["COMMAND_TTL_S"])
        self.log = log


@functools.cache
def deployed():
    """The Lambda's Context, made on the first invocation, so the endpoint and region come from the
    environment of the call (as button.deployed)."""
    endpoint = os.environ.get("IOT_DATA_ENDPOINT")
    client = None
    if endpoint:
        import boto3

        client = boto3.client("iot-data", endpoint_url=endpoint)
    return Context(client, os.environ)


def handler(event, lambda_context=None):
    return handle(event, deployed())


def handle(event, context):
    def log(outcome, **fields):
        context.log(json.dumps(dict(fields, outcome=outcome), default=str))

    if isinstance(event, dict) and "replay-name" in event:
        # Not an error: raising would retry it and park it in the failure queue.
        log("refused", replay=event["replay-name"], press_id=_press_id_or_none(event))
        return {"status": "refused", "reason": "replayed event %r never feeds" % event["replay-name"]}
    try:
        command = command_for(event, context)
        target = target_feeder(event["detail"], context)
    except MalformedFeed as error:
        log("rejected", reason=str(error))
        return {"status": "rejected", "reason": str(error)}
    remaining_s = command["issued_at"] + command["ttl"] - time.time()
    if remaining_s <= 0:
        # The device would refuse it as expired; publishing it would only cost a message.
        log("expired", press_id=command["id"], late_s=-remaining_s)
        return {"status": "expired", "id": command["id"]}
    if context.iot_data is None:
        raise MissingEndpoint(
            "IOT_DATA_ENDPOINT is not set: it must be the account's iot:Data-ATS endpoint "
            "(https://<prefix>-ats.iot.<region>.amazonaws.com), which `make deploy` sets"
        )
    context.iot_data.publish(
        topic=context.action_topic.format(thing=target),
        qos=1,
        payload=json.dumps(command, separators=(",", ":")).encode(),
        payloadFormatIndicator="UTF8_DATA",
        # IoT Core drops the message once the command could no longer be dispensed anyway.
        messageExpiry=math.ceil(remaining_s),
    )
    log("published", press_id=command["id"], event=command["event"], thing=target)
    return {"status": "published", "id": command["id"]}


def command_for(event, context):
    """Return the v1 command for a feeds event, or raise MalformedFeed naming the field."""
    if not isinstance(event, dict):
        raise MalformedFeed("event: expected a JSON object, got %s" % type(event).__name__)
    if event.get("source") != context.source:
        raise MalformedFeed("source: expected %r, got %r" % (context.source, event.get("source")))
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedFeed("detail: expected an object")
    press_id = detail.get("press_id")
    if not isinstance(press_id, str) or not PRESS_ID.match(press_id):
        raise MalformedFeed(
            "detail.press_id: expected 1-64 characters from [A-Za-z0-9_.:-], got %r" % (press_id,)
        )
    if detail.get("event") not in EVENTS:
        raise MalformedFeed("detail.event: expected SINGLE, DOUBLE or LONG, got %r" % (detail.get("event"),))
    pressed_at = detail.get("pressed_at")
    if (
        isinstance(pressed_at, bool)
        or not isinstance(pressed_at, (int, float))
        or not bounds.MIN_TIME <= pressed_at <= bounds.MAX_TIME
    ):
        raise MalformedFeed(
            "detail.pressed_at: expected Unix seconds %d..%d, got %r"
            % (bounds.MIN_TIME, bounds.MAX_TIME, pressed_at)
        )
    return {
        "v": 1,
        "id": press_id,
        "event": detail["event"],
        # Whole seconds: the device's floats are single precision and it rejects a float time.
        "issued_at": math.floor(pressed_at),
        "ttl": context.ttl_s,
    }


def target_feeder(detail, context):
    """The thing whose action topic the command goes to: a remote button's feeder, as the household
    maps it; a feeder's own button feeds that feeder."""
    if detail.get("origin") != "button":
        return context.default_feeder
    thing = detail.get("button")
    if not bounds.is_thing(thing):  # it becomes a topic level: no `/`, `+` or `#`
        raise MalformedFeed(
            "detail.button: expected 1-%d characters from [A-Za-z0-9_-], got %r" % (bounds.MAX_THING, thing)
        )
    return context.button_routes.get(thing, thing)


def _press_id_or_none(event):
    detail = event.get("detail")
    return detail.get("press_id") if isinstance(detail, dict) else None

