"""The self-hosted hub (cloud/hub/) against a real mosquitto over mutual TLS: ingest acknowledged after
the ledger commit, bad input kept and refused, rules delivering to the real handlers, and replays."""

import hashlib
import json
import sqlite3
import time

import pytest

from cloud.hub import ledger as ledger_mod
from cloud.hub import replay as replay_mod
from cloud.topology import DEVICE_SOURCE, THING, states_topic

BUTTON = "cat-feeder/cat-feeder/button"


def events(hub):
    db = ledger_mod.connect(hub.ledger_path, readonly=True)
    return [event for _, event in ledger_mod.read(db)]


def command(device, timeout_s=10):
    message = device.receive(timeout_s)
    return json.loads(message[1]) if message else None


def test_a_press_is_in_the_ledger_and_becomes_one_command(hub, device):
    at = int(time.time())
    device.publish(BUTTON, json.dumps({"v": 1, "event": "DOUBLE", "at": at, "seq": 7, "thing": "evil"}), 1)
    sent = command(device)
    (event,) = events(hub)
    assert event["detail-type"] == "FeedRequested" and event["detail"]["button"] == "cat-feeder"
    assert sent == {"v": 1, "id": event["detail"]["press_id"], "event": "DOUBLE", "issued_at": at, "ttl": 300}
    # The same message again (a QoS 1 redelivery) is the same press: not a second event, not a command.
    device.publish(BUTTON, json.dumps({"v": 1, "event": "DOUBLE", "at": at, "seq": 7}), 1)
    assert command(device, 1.0) is None
    assert len(events(hub)) == 1


def test_hostile_button_payloads_and_malformed_states_are_kept_refused_and_the_hub_goes_on(hub, device):
    hostile = [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        b"x" * 5000,
        json.dumps({"v": 2, "event": "SINGLE", "at": 1, "seq": 1}).encode(),
        json.dumps({"v": 1, "event": "TRIPLE", "at": 1, "seq": 1}).encode(),
        json.dumps({"v": 1, "event": "SINGLE", "at": "soon", "seq": 1}).encode(),
    ]
    for payload in hostile:
        device.publish(BUTTON, payload, 1)
    malformed = [
        b"{",
        json.dumps({"v": 1, "type": "result", "thing": "cat-feeder", "seq": -1}).encode(),
        json.dumps(
            {
                "v": 1,
                "type": "result",
                "thing": "cat-feeder",
                "seq": 3,
                "id": "p",
                "status": "eaten",
                "bowls": [],
                "at": 5,
            }
        ).encode(),
        json.dumps(
            {
                "v": 1,
                "type": "result",
                "thing": "cat-feeder",
                "seq": 3,
                "id": "p",
                "status": "capped",
                "bowls": ["middle"],
                "at": 5,
            }
        ).encode(),
    ]
    for payload in malformed:
        device.publish(states_topic(THING), payload, 1)
    good = {
        "v": 1,
        "type": "result",
        "thing": "cat-feeder",
        "seq": 4,
        "id": "press-1",
        "status": "capped",
        "bowls": [],
        "reason": "feeding cap: 6 portions per 24 h",
        "at": 1795000000,
    }
    device.publish(states_topic(THING), json.dumps(good), 1)
    device.publish(BUTTON, json.dumps({"v": 1, "event": "SINGLE", "at": int(time.time()), "seq": 9}), 1)
    assert command(device)["event"] == "SINGLE"
    db = sqlite3.connect(hub.ledger_path)
    rejected = db.execute(
        "SELECT topic, payload, reason, length, sha256 FROM rejected ORDER BY id"
    ).fetchall()
    # A bounded trace of each: its first bytes, its length and its hash.
    assert [(bytes(payload), length, digest) for _, payload, _, length, digest in rejected] == [
        (sent[: ledger_mod.REJECTED_PREFIX], len(sent), hashlib.sha256(sent).hexdigest())
        for sent in hostile + malformed
    ]
    reasons = [row[2] for row in rejected]
    assert reasons[0].startswith("JSONDecodeError") and "over 4096" in reasons[3]
    assert (
        "v: expected 1" in reasons[4] and "TRIPLE" in reasons[5] and reasons[6].startswith("at: wrong type")
    )
    assert "at: expected" in reasons[8] and "eaten" in reasons[9] and "bowls" in reasons[10]
    kept = events(hub)
    assert [(e["source"], e["detail-type"]) for e in kept] == [
        (DEVICE_SOURCE, "FeedResult"),
        ("com.feedmyfurbabies", "FeedRequested"),
    ]
    assert kept[0]["detail"] == good and kept[0]["time"] == "2026-11-18T11:06:40Z"


def test_a_replay_covers_its_window_reaches_only_the_chosen_rules_and_never_feeds(hub, device):
    for seq in (1, 2, 3):
        device.publish(BUTTON, json.dumps({"v": 1, "event": "SINGLE", "at": int(time.time()), "seq": seq}), 1)
        assert command(device)["id"]
        time.sleep(0.05)
    recorded = (
        sqlite3.connect(hub.ledger_path).execute("SELECT recorded_at FROM events ORDER BY seq").fetchall()
    )
    start, end = recorded[1][0], recorded[2][0]
    assert replay_mod.replay(hub.ledger_path, "r-1", start, end, ["replays"]) == (2, 2)
    queued = sqlite3.connect(hub.ledger_path).execute("SELECT body FROM queue_messages").fetchall()
    presses = [e["detail"]["press_id"] for e in events(hub)]
    assert [(json.loads(b)["detail"]["press_id"], json.loads(b)["replay-name"]) for (b,) in queued] == [
        (presses[1], "r-1"),
        (presses[2], "r-1"),
    ]
    assert command(device, 1.0) is None
    for rules, name, why in (
        (["feeds"], "r-2", "never feed"),
        ([], "r-2", "at least one"),
        (["nope"], "r-2", "no rule named"),
        (["replays"], "r-1", "unique"),
    ):
        with pytest.raises(replay_mod.ReplayRefused, match=why):
            replay_mod.replay(hub.ledger_path, name, 0, time.time(), rules)
