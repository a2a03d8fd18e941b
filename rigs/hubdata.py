"""Events for the hub tests, shaped as the handlers put them on the bus."""

import os
from datetime import datetime, timezone

from cloud.handlers import button, projector
from cloud.hub.events import envelope
from cloud.topology import DEVICE_SOURCE, SOURCE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = tuple(projector.BOWLS)
BOWLS = {event: list(bowls) for event, bowls in projector.BOWLS.items()}  # as a result lists them
T0 = 1_795_000_000


def press_event(seq, at=None, click=None, thing="cat-feeder"):
    click = click or EVENTS[seq % 3]
    at = at if at is not None else T0 + seq
    detail = button.parse_press({"v": 1, "event": click, "at": at, "seq": seq, "thing": thing})
    return _event(SOURCE, "FeedRequested", at, detail)


def result_event(seq, press_id, status, at, bowls=(), thing="cat-feeder", **extra):
    detail = dict(
        {
            "v": 1,
            "type": "result",
            "thing": thing,
            "seq": seq,
            "id": press_id,
            "status": status,
            "bowls": list(bowls),
            "at": at,
        },
        **extra,
    )
    return _event(DEVICE_SOURCE, "FeedResult", at, detail)


def status_event(status, at, thing="cat-feeder"):
    detail = {"v": 1, "type": "status", "thing": thing, "status": status, "at": at}
    return _event(DEVICE_SOURCE, "DeviceStatus", at, detail)


def update_event(kind, at, version="1.5.0", job="ota-1_5_0-1", thing="cat-feeder", **extra):
    """An update's ledger event (docs/protocol.md, "In the ledger") of `kind` (UpdateOffered, ...), as
    cloud/hub/jobs.py records it: `time` is when it was queued or arrived."""
    return _event(SOURCE, kind, at, dict({"thing": thing, "job": job, "version": version}, **extra))


def _event(source, detail_type, at, detail):
    import json

    return envelope(
        {
            "Source": source,
            "DetailType": detail_type,
            "Time": datetime.fromtimestamp(at, tz=timezone.utc),
            "Detail": json.dumps(detail),
        }
    )
