"""Schedules function: turns a live `ScheduleChanged` (docs/protocol.md, "In the ledger") into the desired
state of the feeder's `schedule` named shadow, which the device reads at every connect and on every
delta (docs/protocol.md, "Schedule shadow").

The desired document is a pure function of the event (cloud/schedule.py's `desired`, with the POSIX TZ
rule the event recorded), and a shadow never goes back: the function reads the shadow first and writes
only a version newer than its desired one, passing the shadow's own document version so that a write
racing another (a redelivery, an older event retried late) is refused by the shadow service
(ConflictException) and decided again. So a device that was off gets the latest version when it
reconnects, never an older one.

Replays of the ledger never write the shadow: the `schedules` rule excludes them ("replay-name":
[{"exists": false}]) and this function refuses them again. A malformed event is logged and answered
`rejected` (a retry could not fix it); a failed shadow call raises, so the rule retries it.

One client, with boto3's iot-data calls `get_thing_shadow` and `update_thing_shadow` (shadowName):
on AWS iot-data on the account's endpoint (IOT_DATA_ENDPOINT); on the hub its shadow store
(cloud/hub/shadows.py).
"""

import functools
import json
import os

from cloud import schedule

CLIENT = "shadows"  # the client this handler takes (cloud/hub/runtime.py gives the hub's)
SHADOW = "schedule"  # cloud/topology.py's SCHEDULE_SHADOW (not imported: the Lambda package holds this file)
CONFLICT_RETRIES = 5


class MalformedChange(ValueError):
    """Not a ScheduleChanged this function can turn into a desired document."""


class Context:
    def __init__(self, shadows, environ, log=print):
        self.shadows = shadows
        self.source = environ["EVENT_SOURCE"]
        self.log = log


@functools.cache
def deployed():
    import boto3

    return Context(boto3.client("iot-data", endpoint_url=os.environ["IOT_DATA_ENDPOINT"]), os.environ)


def handler(event, lambda_context=None):
    return handle(event, deployed())


def handle(event, context):
    try:
        thing, document = change_of(event, context.source)
    except MalformedChange as error:
        context.log(json.dumps({"outcome": "rejected", "reason": str(error)}))
        return {"status": "rejected", "reason": str(error)}
    for _ in range(CONFLICT_RETRIES):
        current, shadow_version = _current(context.shadows, thing)
        if current is not None and current >= document["version"]:
            context.log(json.dumps({"outcome": "stale", "thing": thing, "version": document["version"]}))
            return {"status": "stale", "thing": thing, "version": document["version"], "shadow": current}
        update = {"state": {"desired": document}}
        if shadow_version is not None:
            update["version"] = shadow_version
        try:
            context.shadows.update_thing_shadow(
                thingName=thing, shadowName=SHADOW, payload=json.dumps(update, separators=(",", ":"))
            )
        except context.shadows.exceptions.ConflictException:
            continue  # the shadow moved meanwhile: read it again
        context.log(json.dumps({"outcome": "desired", "thing": thing, "version": document["version"]}))
        return {"status": "desired", "thing": thing, "version": document["version"]}
    raise RuntimeError("shadow %s/%s kept changing under %d attempts" % (thing, SHADOW, CONFLICT_RETRIES))


def change_of(event, source):
    """(thing, desired document) of a live ScheduleChanged, or MalformedChange."""
    if not isinstance(event, dict) or "replay-name" in event:
        raise MalformedChange("replayed or not an event: a replay never writes the shadow")
    if event.get("source") != source or event.get("detail-type") != "ScheduleChanged":
        raise MalformedChange("event: expected a ScheduleChanged from %s" % source)
    detail = event.get("detail")
    if not isinstance(detail, dict) or not isinstance(detail.get("thing"), str):
        raise MalformedChange("detail.thing: expected the feeder's thing name")
    try:
        return detail["thing"], schedule.desired(
            schedule.structure(detail.get("schedule")), detail.get("version"), detail.get("tz")
        )
    except schedule.ScheduleError as error:
        raise MalformedChange(str(error)) from None


def _current(shadows, thing):
    """(desired schedule version, shadow document version), (None, None) when there is no shadow yet."""
    try:
        answer = shadows.get_thing_shadow(thingName=thing, shadowName=SHADOW)
    except shadows.exceptions.ResourceNotFoundException:
        return None, None
    document = json.loads(answer["payload"].read())
    desired = document.get("state", {}).get("desired") or {}
    return desired.get("version", 0), document.get("version")
