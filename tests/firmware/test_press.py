"""press.py: the press id and message against the shared vectors (tests/vectors/press_id.json).

The same vectors pin the cloud's button handler (tests/cloud/test_cloud_button_handler.py), so the
device and the cloud mint the same id for one press, on CPython and on MicroPython."""

import json

import press


def vectors():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(here + "/../vectors/press_id.json") as f:
        return json.load(f)["vectors"]


def test_press_ids_match_the_shared_vectors():
    checked = 0
    for vector in vectors():
        got = press.press_id(vector["thing"], vector["event"], vector["at"], vector["seq"])
        assert got == vector["id"], (vector["canonical"], got)
        assert press.digest_id(vector["canonical"].split("|")) == vector["id"]
        checked += 1
    assert checked >= 5


def test_press_messages_match_the_shared_vectors_and_decode_to_the_fields():
    for vector in vectors():
        message = press.press_message(vector["event"], vector["at"], vector["seq"])
        assert message.decode() == vector["message"]
        fields = {"v": 1, "event": vector["event"], "at": vector["at"], "seq": vector["seq"]}
        assert json.loads(message) == fields


def test_every_field_changes_the_id():
    base = press.press_id("cat-feeder", "SINGLE", 1795730000, 17)
    assert len(base) == len("press-") + 16 and base.startswith("press-")
    others = [
        press.press_id("cat-feeder2", "SINGLE", 1795730000, 17),
        press.press_id("cat-feeder", "LONG", 1795730000, 17),
        press.press_id("cat-feeder", "SINGLE", 1795730001, 17),
        press.press_id("cat-feeder", "SINGLE", 1795730000, 18),
    ]
    assert base not in others and len(set(others)) == 4
