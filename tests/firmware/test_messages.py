"""messages.py: results stay small in flash and render exactly as docs/protocol.md shows."""

import json

import messages
from messages import DISPENSED, DUPLICATE, EXPIRED, INTERRUPTED, REJECTED


def test_dispensed_result_is_small():
    packed = messages.pack_result("press-7f3a9c2e", DISPENSED, 1, 1795730001, None)
    assert len(packed) == 7 + len("press-7f3a9c2e")
    assert isinstance(packed, bytes)


def test_render_matches_the_protocol_examples():
    packed = messages.pack_result("press-7f3a9c2e", DISPENSED, 1, 1795730001, None)
    assert messages.render("cat-feeder", 42, packed) == (
        b'{"v": 1, "type": "result", "thing": "cat-feeder", "seq": 42, "id": "press-7f3a9c2e", '
        b'"status": "dispensed", "bowls": ["left"], "at": 1795730001}'
    )
    packed = messages.pack_result(None, REJECTED, 0, 1795730002, "event: expected SINGLE, DOUBLE or LONG")
    assert messages.render("cat-feeder", 43, packed) == (
        b'{"v": 1, "type": "result", "thing": "cat-feeder", "seq": 43, "id": null, '
        b'"status": "rejected", "bowls": [], "reason": "event: expected SINGLE, DOUBLE or LONG", '
        b'"at": 1795730002}'
    )


def test_every_status_and_bowls_mask_round_trips():
    for status, name in (
        (DISPENSED, "dispensed"),
        (DUPLICATE, "duplicate"),
        (EXPIRED, "expired"),
        (INTERRUPTED, "interrupted"),
    ):
        for mask, bowls in ((0, []), (1, ["left"]), (2, ["right"]), (3, ["left", "right"])):
            packed = messages.pack_result("legacy:LONG:2026-11-26T21:03:11.512Z", status, mask, 7, None)
            result = json.loads(messages.render("t", 9, packed))
            assert result == {
                "v": 1,
                "type": "result",
                "thing": "t",
                "seq": 9,
                "status": name,
                "bowls": bowls,
                "id": "legacy:LONG:2026-11-26T21:03:11.512Z",
                "at": 7,
            }


def test_reason_only_for_rejected():
    packed = messages.pack_result("a", REJECTED, 0, 1, "id: bad")
    assert json.loads(messages.render("t", 1, packed))["reason"] == "id: bad"
    assert "reason" not in json.loads(messages.render("t", 1, messages.pack_result("a", EXPIRED, 0, 1, None)))


def test_result_id():
    assert messages.result_id(messages.pack_result("press-1", DUPLICATE, 0, 5, None)) == "press-1"
    assert messages.result_id(messages.pack_result(None, REJECTED, 0, 5, "payload: not UTF-8 JSON")) is None
    assert messages.result_id(bytearray(messages.pack_result("x", DISPENSED, 3, 5, None))) == "x"


def test_unrepresentable_time_is_zero():
    assert json.loads(messages.render("t", 1, messages.pack_result("a", EXPIRED, 0, -5, None)))["at"] == 0
    assert json.loads(messages.render("t", 1, messages.pack_result("a", EXPIRED, 0, 2**40, None)))["at"] == 0


def test_status_messages():
    assert messages.status_message("cat-feeder", "online", 1795730000) == (
        b'{"v": 1, "type": "status", "thing": "cat-feeder", "status": "online", "at": 1795730000}'
    )
    assert messages.status_message("cat-feeder", "offline") == (
        b'{"v": 1, "type": "status", "thing": "cat-feeder", "status": "offline"}'
    )


class LinkState:
    connect_failures = 3
    last_error = 'tls: handshake failed (ValueError("certificate verify failed"))'


class CapState:
    portions_hour = (1, 0)
    portions_day = (3, 2)
    per_hour = 4
    per_day = 12


def test_telemetry_message():
    assert messages.telemetry_message("cat-feeder", 86400, 81234, 0, 0, 1795730000, LinkState, CapState) == (
        b'{"v": 1, "type": "telemetry", "thing": "cat-feeder", "uptime_s": 86400, "heap_free": 81234, '
        b'"outbox_depth": 0, "dropped": 0, "connect_failures": 3, '
        b'"last_error": "tls: handshake failed (ValueError(\\"certificate verify failed\\"))", '
        b'"portions_hour": {"left": 1, "right": 0}, "portions_day": {"left": 3, "right": 2}, '
        b'"max_portions_per_hour": 4, "max_portions_per_day": 12, "at": 1795730000}'
    )
    LinkState.last_error = None
    assert b'"last_error": null' in messages.telemetry_message("t", 0, 0, 0, 0, 0, LinkState, CapState)


def test_capped_result_carries_its_reason():
    packed = messages.pack_result("press-c", messages.CAPPED, 0, 1795730000, "cap: left bowl")
    assert json.loads(messages.render("cat-feeder", 9, packed)) == {
        "v": 1, "type": "result", "thing": "cat-feeder", "seq": 9, "id": "press-c", "status": "capped",
        "bowls": [], "reason": "cap: left bowl", "at": 1795730000}
