"""The schedule shadow on the device (CPython and MicroPython): schedule_doc.py validates types and
bounds with one line naming the field, applies only newer versions; shadow.py asks with `get` at
connect and on a delta, reports the version, the clock and the error (docs/protocol.md, "Schedule
shadow")."""

import json

import schedule_doc
from shadow import Shadow

TOPIC = "$aws/things/cat-feeder/shadow/name/schedule"
GOOD = {"version": 7, "tz": "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "slots": [{"id": 0, "at": 450, "event": "LONG", "portions": 1, "days": 127}],
        "paused": False, "skip": [0, 20261205], "grace_s": 1800}


def accepted(desired):
    return json.dumps({"state": {"desired": desired, "reported": {"version": 1}}, "version": 12}).encode()


def with_field(path, value):
    doc = json.loads(json.dumps(GOOD))
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


def test_a_valid_document_is_packed_compactly_with_its_compiled_rule():
    version, body, error = schedule_doc.desired(accepted(GOOD), 6)
    assert (version, error) == (7, None)
    assert len(body) == 15 + 6 + 24  # head, one slot, the compiled rule


def test_each_bad_field_is_named_in_one_line():
    cases = [
        (("tz",), "Mars/Olympus", "tz:"), (("tz",), "EST5EDT", "tz:"), (("tz",), 5, "tz:"),
        (("slots",), {}, "slots:"), (("slots",), [GOOD["slots"][0]] * 9, "slots:"),
        (("slots", 0, "at"), 1440, "slots[0].at: expected int 0..1439"),
        (("slots", 0, "at"), 450.0, "slots[0].at:"), (("slots", 0, "id"), 8, "slots[0].id:"),
        (("slots", 0, "event"), "TRIPLE", "slots[0].event:"),
        (("slots", 0, "portions"), 5, "slots[0].portions:"),
        (("slots", 0, "days"), 0, "slots[0].days:"), (("slots", 0, "days"), True, "slots[0].days:"),
        (("paused",), 0, "paused:"), (("skip",), [0], "skip:"), (("skip",), [0, 20260230], "skip:"),
        (("grace_s",), 86401, "grace_s:"), (("grace_s",), None, "grace_s:"),
        (("version",), 2**31, "version:"),
    ]
    for path, value, expected in cases:
        version, body, error = schedule_doc.desired(accepted(with_field(path, value)), 6)
        assert body is None and error is not None and error.startswith(expected), (path, value, error)
        assert "\n" not in error
    two = json.loads(json.dumps(GOOD))
    two["slots"] = [GOOD["slots"][0], GOOD["slots"][0]]
    assert schedule_doc.desired(accepted(two), 0)[2] == "slots[1].id: expected a unique id"


def test_only_a_newer_version_is_applied_and_garbage_never_raises():
    assert schedule_doc.desired(accepted(GOOD), 7) == (0, None, None)  # the same version again
    assert schedule_doc.desired(accepted(GOOD), 9) == (0, None, None)  # an older one, late
    assert schedule_doc.desired(b'{"state": {"reported": {"version": 3}}}', 0) == (0, None, None)
    assert schedule_doc.desired(b"\xff{", 0)[2] == "shadow: not UTF-8 JSON"
    assert schedule_doc.desired(b"[1]", 0) == (0, None, None)
    assert schedule_doc.desired(b'{"state": {"desired": 5}}', 0)[2] == "desired: expected an object"


class FakeSchedule:
    """What the shadow client needs of schedule.Schedule: its version, and apply."""

    def __init__(self):
        self.version = 0
        self.applied = []

    def apply(self, body):
        self.applied.append(body)
        self.version = body[0] | body[1] << 8  # the stored head starts with the u32 version


class Clock:
    def __init__(self, trusted):
        self.trusted = trusted

    def clock_trusted(self):
        return self.trusted


class Link:
    def __init__(self):
        self.sent = []

    def send(self, topic, payload, qos=1, retain=False):
        self.sent.append((topic, json.loads(payload)))
        return len(self.sent)


def test_the_shadow_client_follows_the_contract():
    schedule, clock, link, logged = FakeSchedule(), Clock(False), Link(), []
    shadow = Shadow(TOPIC, schedule, clock, lambda *parts: logged.append(parts))
    subscribed = (TOPIC + "/get/accepted", TOPIC + "/get/rejected", TOPIC + "/update/delta")
    assert schedule_doc.subscriptions(TOPIC) == subscribed
    shadow.on_connect()
    shadow.send(link)
    assert link.sent == [(TOPIC + "/get", {})]
    accepted_topic = (TOPIC + "/get/accepted").encode()
    assert shadow.on_message(accepted_topic, accepted(GOOD))
    assert len(schedule.applied) == 1 and schedule.version == 7
    shadow.send(link)
    assert link.sent[-1] == (TOPIC + "/update", {"state": {"reported": {"version": 7, "clock": "untrusted"}}})
    # A delta asks for the whole document again; the same version again, or an older one delivered
    # late, changes nothing and is not reported again (on AWS IoT the report's own delta would loop).
    assert shadow.on_message((TOPIC + "/update/delta").encode(), b'{"state": {"tz": "UTC0"}}')
    shadow.send(link)
    assert link.sent[-1] == (TOPIC + "/get", {})
    sent = len(link.sent)
    older = with_field(("version",), 5)
    for document in (GOOD, older):
        assert shadow.on_message(accepted_topic, accepted(document))
        shadow.send(link)
    assert len(schedule.applied) == 1 and len(link.sent) == sent
    # A new session reports once more.
    shadow.on_connect()
    shadow.on_message(accepted_topic, accepted(GOOD))
    shadow.send(link)
    assert [topic for topic, _ in link.sent[sent:]] == [TOPIC + "/get", TOPIC + "/update"]
    # A newer invalid one is refused and reported with the applied version.
    bad = with_field(("slots", 0, "at"), 2000)
    bad["version"] = 8
    shadow.on_message(accepted_topic, accepted(bad))
    shadow.send(link)
    reported = link.sent[-1][1]["state"]["reported"]
    assert reported == {"version": 7, "clock": "untrusted", "error": "slots[0].at: expected int 0..1439"}
    # NTP sets the clock: reported again, with "ntp".
    count = len(link.sent)
    clock.trusted = True
    shadow.send(link)
    assert len(link.sent) == count + 1 and link.sent[-1][1]["state"]["reported"]["clock"] == "ntp"
    shadow.send(link)
    assert len(link.sent) == count + 1  # nothing new to say
    assert not shadow.on_message(b"cat-feeder/cat-feeder/action", b"{}")


def test_a_feeder_without_a_schedule_says_so_in_plain_words():
    """A fresh feeder's `get` meets the 404 of a shadow never written (cloud/hub/shadows.py, AWS IoT):
    the usual first start, not a fault; any other rejection is logged as it came."""
    logged = []
    shadow = Shadow(TOPIC, FakeSchedule(), Clock(False), lambda *parts: logged.append(parts))
    rejected_topic = (TOPIC + "/get/rejected").encode()
    no_shadow = b'{"code":404,"message":"No shadow exists with name: \'schedule\'"}'
    assert shadow.on_message(rejected_topic, no_shadow)
    assert logged == [("schedule: none set yet",)]
    assert shadow.on_message(rejected_topic, b'{"code":500,"message":"InternalFailure"}')
    assert logged[1] == ("schedule: get rejected", b'{"code":500,"message":"InternalFailure"}')
