"""The schedule shadow's messages (docs/protocol.md, "Schedule shadow"): imported only when one
arrives or a report is due (shadow.py, through bootonly.call) and released afterwards, so the
topics, the JSON and the parsing code never stay in the heap.

`received(topic, payload, schedule, error, log)` handles one message of the subscribed topics: a
delta asks for the whole document (`get`); a `get/accepted` document newer than the applied one is
applied (schedule.Schedule.apply) or refused with its error, and reported either way.

`desired(payload, applied_version)` reads a `get/accepted` document and returns
(version, body, error): body is the stored form of `state.desired` (schedule.py's `doc` record)
when it is valid and newer than the applied version; error is one line naming the field when it is
newer and invalid; (0, None, None) when there is nothing to apply (no desired state, not newer).
The device checks types and bounds only; the cloud checks the rest (gaps, the cap, the zone).
"""

import json
import struct

import tzparse
import tzrule
from command import EVENTS
from micropython import const
from schedule_run import HEAD, NO_DST, RULE, SLOT

# The subscribed topics' suffixes; the link hands topics over as bytes.
_ACCEPTED = const(b"/get/accepted")
_REJECTED = const(b"/get/rejected")
_DELTA = const(b"/update/delta")
# get/rejected's message (code 404) for a shadow never written, AWS IoT's and the hub's
_NO_SHADOW = const(b"No shadow exists")
_MAX_VERSION = const(0x7FFFFFFF)
_MAX_SLOTS = const(8)


class Invalid(ValueError):
    pass


def _int(doc, key, low, high, where=""):
    value = doc.get(key) if type(doc) is dict else None
    if type(value) is not int or not low <= value <= high:
        raise Invalid("%s%s: expected int %d..%d" % (where, key, low, high))
    return value


def _valid_date(value):
    y, md = divmod(value, 10000)
    m, d = divmod(md, 100)
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return False
    return tzrule.civil_from_days(tzrule.days_from_civil(y, m, d)) == (y, m, d)


def pack(desired):
    """The stored body of a desired document; raises Invalid naming the field."""
    if type(desired) is not dict:
        raise Invalid("desired: expected an object")
    version = _int(desired, "version", 1, _MAX_VERSION)
    rule = tzparse.parse(desired.get("tz"))
    if rule is None:
        raise Invalid("tz: expected a POSIX TZ rule of at most 64 characters with its DST dates")
    std, dst, start, end = rule
    if start is None:
        start = end = (NO_DST, 0, 0, 0, 0)
    slots = desired.get("slots")
    if type(slots) is not list or len(slots) > _MAX_SLOTS:
        raise Invalid("slots: expected a list of 0..8 slots")
    body = bytearray()
    ids = []
    for i, slot in enumerate(slots):
        where = "slots[%d]." % i
        if type(slot) is not dict:
            raise Invalid("slots[%d]: expected an object" % i)
        slot_id = _int(slot, "id", 0, 7, where)
        if slot_id in ids:
            raise Invalid(where + "id: expected a unique id")
        ids.append(slot_id)
        event = slot.get("event")
        if event not in EVENTS:
            raise Invalid(where + "event: expected SINGLE, DOUBLE or LONG")
        body.extend(struct.pack(SLOT, slot_id, _int(slot, "at", 0, 1439, where), EVENTS[event],
                                _int(slot, "portions", 1, 4, where), _int(slot, "days", 1, 127, where)))
    paused = desired.get("paused")
    if type(paused) is not bool:
        raise Invalid("paused: expected true or false")
    skip = desired.get("skip")
    skip_slot, skip_date = -1, 0
    if skip != []:
        if type(skip) is not list or len(skip) != 2 or type(skip[0]) is not int or not 0 <= skip[0] <= 7 \
                or type(skip[1]) is not int or not _valid_date(skip[1]):
            raise Invalid("skip: expected [] or [slot id 0..7, local date YYYYMMDD]")
        skip_slot, skip_date = skip
    grace_s = _int(desired, "grace_s", 0, 86400)
    head = struct.pack(HEAD, version, grace_s, 1 if paused else 0, skip_slot, skip_date, len(slots))
    return version, bytes(head) + bytes(body) + struct.pack(RULE, std, dst, *(start + end))


def desired(payload, applied_version):
    """(version, body, error) of a get/accepted payload: see the module docstring. Never raises."""
    try:
        doc = json.loads(payload)
    except Exception:  # ValueError, UnicodeError on MicroPython
        return 0, None, "shadow: not UTF-8 JSON"
    state = doc.get("state") if type(doc) is dict else None
    wanted = state.get("desired") if type(state) is dict else None
    if wanted is None:
        return 0, None, None  # nothing desired yet
    version = wanted.get("version") if type(wanted) is dict else None
    if type(version) is int and version <= applied_version:
        return 0, None, None  # older or the same, delivered late: ignored
    try:
        version, body = pack(wanted)
    except Invalid as exc:
        return 0, None, str(exc)
    return version, body, None


def subscriptions(topic):
    """The topics the device subscribes to, below the shadow's topic (the link keeps them)."""
    return topic + _ACCEPTED.decode(), topic + _REJECTED.decode(), topic + _DELTA.decode()


def received(topic, payload, schedule, error, log):
    """None when topic is not the shadow's; else (ask for the document, report, the error to report:
    the one given when nothing newer came). Never raises but on memory or storage failing."""
    if topic.endswith(_DELTA):
        return True, False, error
    if topic.endswith(_REJECTED):
        if _NO_SHADOW in payload:  # a feeder nobody gave a schedule yet: the usual first start
            log("schedule: none set yet")
        else:
            log("schedule: get rejected", payload[:80])
        return False, False, error
    if not topic.endswith(_ACCEPTED):
        return None
    version, body, refusal = desired(payload, schedule.version)
    if body is not None:
        schedule.apply(body)
        log("schedule: applied version", version)
        return False, True, None
    if refusal is not None:
        log("schedule: refused", refusal)
        return False, True, refusal
    return False, True, error


def reported(version, trusted, error):
    """The `update` payload reporting the applied version, the clock, and why a document was refused."""
    state = {"version": version, "clock": "ntp" if trusted else "untrusted"}
    if error is not None:
        state["error"] = error
    return json.dumps({"state": {"reported": state}})
