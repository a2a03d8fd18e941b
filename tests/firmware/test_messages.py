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


def test_capped_result_carries_its_reason():
    packed = messages.pack_result("press-c", messages.CAPPED, 0, 1795730000, "cap: left bowl")
    assert json.loads(messages.render("cat-feeder", 9, packed)) == {
        "v": 1, "type": "result", "thing": "cat-feeder", "seq": 9, "id": "press-c", "status": "capped",
        "bowls": [], "reason": "cap: left bowl", "at": 1795730000}
