"""The protocol's bounds agree on both sides and with docs/protocol.md ("Bounds", issue 25): the
firmware's own constants and behaviour, the cloud's cloud/handlers/bounds.py, and the hub broker's packet
limit. Whatever the device can send at the edge of a bound the cloud accepts; one past it both refuse."""

import json
import os
import struct
import sys

import pytest

from cloud.handlers import bounds, button, states

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The firmware's modules on CPython, as tests/firmware/conftest.py puts them (const() from the shim).
for folder in ("tests/firmware/cpython", "tests/firmware", "firmware"):
    if os.path.join(ROOT, folder) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, folder))

import command  # noqa: E402
import config  # noqa: E402
import link  # noqa: E402
import messages  # noqa: E402
import press  # noqa: E402
import reports  # noqa: E402
from fwtest import raises, remove_tree, tmpdir  # noqa: E402
from outbox import Outbox  # noqa: E402

PROTOCOL = open(os.path.join(ROOT, "docs", "protocol.md"), encoding="utf-8").read()
BOUNDS_TABLE = PROTOCOL[PROTOCOL.index("## Bounds") : PROTOCOL.index("## Bowls")]


def topic_press(at, seq, thing="cat-feeder"):
    return {"v": 1, "event": "SINGLE", "at": at, "seq": seq, "thing": thing}


def test_times_agree():
    assert (command.MIN_TIME, command.MAX_TIME) == (bounds.MIN_TIME, bounds.MAX_TIME) == (1, 2**32 - 1)
    assert "integer 1 … 2^32 − 1" in BOUNDS_TABLE
    for at, ok in (
        (bounds.MIN_TIME - 1, False),
        (bounds.MIN_TIME, True),
        (bounds.MAX_TIME, True),
        (bounds.MAX_TIME + 1, False),
    ):
        device = command.parse(b'{"v": 1, "id": "p", "event": "SINGLE", "issued_at": %d}' % at, 300, 3600)
        assert (device.reason is None) is ok, at
        assert _button_ok(topic_press(at, 0)) is ok, at
    # The device's stored press time is a u32: the bound is what it can represent.
    press.store("SINGLE", bounds.MAX_TIME)
    raises(struct.error, press.store, "SINGLE", bounds.MAX_TIME + 1)


def _button_ok(event):
    try:
        button.parse_press(event)
    except button.InvalidPress:
        return False
    return True


def test_seq_agrees_with_the_device_queue():
    assert "integer 0 … 2^32 − 1" in BOUNDS_TABLE
    directory = tmpdir()
    try:
        queue = Outbox(directory, 4)
        queue.next_seq = bounds.MAX_SEQ
        assert queue.put(press.store("SINGLE", 1795730000)) == bounds.MAX_SEQ
        raises(OSError, queue.put, press.store("SINGLE", 1795730000))  # the device has no larger seq
    finally:
        remove_tree(directory)
    assert _button_ok(topic_press(1795730000, bounds.MAX_SEQ))
    assert not _button_ok(topic_press(1795730000, bounds.MAX_SEQ + 1))


def test_ids_and_things_agree():
    assert set(command.ID_CHARS) == bounds.ID_CHARS and set(config.NAME_CHARS) == bounds.THING_CHARS
    assert command.valid_id("a" * bounds.MAX_ID) and not command.valid_id("a" * (bounds.MAX_ID + 1))
    assert bounds.is_id("a" * bounds.MAX_ID) and not bounds.is_id("a" * (bounds.MAX_ID + 1))
    assert "1–64 characters from `[A-Za-z0-9_.:-]`" in BOUNDS_TABLE and bounds.MAX_ID == 64
    assert "1–64 characters from `[A-Za-z0-9_-]`" in BOUNDS_TABLE and bounds.MAX_THING == 64
    for thing, ok in (("t" * bounds.MAX_THING, True), ("t" * (bounds.MAX_THING + 1), False)):
        raw = {
            "thing": thing,
            "mqtt": {"host": "localhost", "ca": "ca.der", "cert": "dev.der", "key": "key.der"},
            "servos": {"left": {"pin": 3}, "right": {"pin": 4}},
        }
        try:
            config.validate(raw, (3, 4))
            device_ok = True
        except config.ConfigError:
            device_ok = False
        assert device_ok is ok and _button_ok(topic_press(1795730000, 0, thing)) is ok


def test_message_sizes_agree():
    assert command.MAX_PAYLOAD == bounds.MAX_COMMAND_BYTES
    assert "at most %d bytes" % bounds.MAX_COMMAND_BYTES in BOUNDS_TABLE
    assert "at most %d bytes" % bounds.MAX_MESSAGE_BYTES in BOUNDS_TABLE
    assert "(%d bytes)" % bounds.MAX_BROKER_PAYLOAD in BOUNDS_TABLE
    template = open(os.path.join(ROOT, "cloud", "hub", "mosquitto", "mosquitto.conf.template")).read()
    assert "\nmax_packet_size %d\n" % bounds.MAX_BROKER_PAYLOAD in template
    assert link.MAX_PACKET == bounds.MAX_BROKER_PAYLOAD  # the device drops a session sending a larger one


def test_what_the_device_sends_at_the_bounds_the_cloud_accepts():
    assert "at most %d characters" % bounds.MAX_TEXT in BOUNDS_TABLE
    longest_id = "i" * bounds.MAX_ID
    reasons = [value for name, value in vars(command).items() if name.startswith("R_")]
    for reason in reasons:
        packed = messages.pack_result(longest_id, messages.REJECTED, 0, bounds.MAX_TIME, reason)
        states.parse_state(json.loads(messages.render("t" * bounds.MAX_THING, bounds.MAX_SEQ, packed)))

    class Link:
        connect_failures = bounds.MAX_COUNT
        last_error = "tls: " + "x" * 1000  # the device cuts it to the bound

    class Cap:
        portions_hour = portions_day = (1, 2)
        per_hour, per_day = 4, 12

    telemetry = reports.telemetry_message("cat-feeder", bounds.MAX_COUNT, 0, 0, 0, bounds.MAX_TIME, Link, Cap)
    assert len(json.loads(telemetry)["last_error"]) == bounds.MAX_TEXT
    states.parse_state(json.loads(telemetry))
    with pytest.raises(states.InvalidState, match="seq: expected an integer 0..4294967295"):
        states.parse_state(json.loads(messages.render("t", bounds.MAX_SEQ + 1, packed)))


def test_the_states_handler_bounds_a_message_with_unknown_fields():
    message = {"v": 1, "type": "status", "thing": "cat-feeder", "status": "online", "at": 1795730000}
    room = bounds.MAX_MESSAGE_BYTES - bounds.json_size(message) - len(',"pad":""')
    states.parse_state(dict(message, pad="x" * room))
    with pytest.raises(states.InvalidState, match="message: over 4096 bytes"):
        states.parse_state(dict(message, pad="x" * (room + 1)))
