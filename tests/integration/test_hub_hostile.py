"""Hostile input at the hub's broker (issue 25), over mutual TLS against the real mosquitto and hub: a press
no device could send is refused with a reason, a message over AWS IoT Core's 128 KB is refused by the broker
(the hub never sees it), what the hub refuses is kept bounded, and the hub goes on feeding."""

import json
import sqlite3
import time

import pytest

from cloud.handlers import bounds
from cloud.hub import ledger as ledger_mod
from tools.mqttc import MqttError

BUTTON = "cat-feeder/cat-feeder/button"
# A QoS 1 PUBLISH as mosquitto 2.0 sizes it against max_packet_size: its type byte and its remaining length
# (topic length, topic, packet id, payload), not the bytes that encode that length (measured: one byte more
# than this is refused).
PUBLISH_OVERHEAD = 1 + 2 + len(BUTTON) + 2


def rejected(hub):
    db = sqlite3.connect(hub.ledger_path)
    try:
        return db.execute("SELECT payload, reason, length FROM rejected ORDER BY id").fetchall()
    finally:
        db.close()


def press(seq, at=None):
    return json.dumps({"v": 1, "event": "SINGLE", "at": at or int(time.time()), "seq": seq})


def wait_for_rows(hub, count, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while len(rows := rejected(hub)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows


def assert_still_feeds(device, seq):
    device.publish(BUTTON, press(seq), 1)
    message = device.receive(10)
    assert message is not None and json.loads(message[1])["event"] == "SINGLE"


def test_a_seq_no_device_could_send_is_refused_with_a_reason_and_never_feeds(hub, device):
    # The device stores a press's seq as an unsigned 32-bit number; 10**40 was accepted and fed.
    for seq in (10**40, bounds.MAX_SEQ + 1):
        device.publish(BUTTON, press(seq), 1)
    rows = wait_for_rows(hub, 2)
    assert [reason for _, reason, _ in rows] == ["seq: expected 0..4294967295"] * 2
    assert device.receive(0.5) is None
    assert_still_feeds(device, bounds.MAX_SEQ)
    db = ledger_mod.connect(hub.ledger_path, readonly=True)
    assert [event["detail-type"] for _, event in ledger_mod.read(db)] == ["FeedRequested"]


def test_the_broker_refuses_a_packet_over_128_kb_and_the_hub_never_sees_it(hub, device, mqtt):
    largest = bounds.MAX_BROKER_PAYLOAD - PUBLISH_OVERHEAD
    publisher = mqtt("device", client_id="cat-feeder-big")
    # The largest packet the broker takes reaches the hub, which refuses it as over its own 4096 bytes.
    publisher.publish(BUTTON, b"x" * largest, 1)
    ((prefix, reason, length),) = wait_for_rows(hub, 1)
    assert length == largest and len(prefix) == ledger_mod.REJECTED_PREFIX and "over 4096" in reason
    # One byte more: the broker disconnects the client (no PUBACK); nothing reaches the hub.
    with pytest.raises((MqttError, OSError)):
        publisher.publish(BUTTON, b"x" * (largest + 1), 1)
    assert_still_feeds(device, 1)
    assert len(rejected(hub)) == 1


def test_hostile_payloads_on_every_topic_the_hub_serves_leave_the_next_press_and_result_in_the_history(
        hub, device):
    # Over the real broker: the states, shadow and jobs topics of the device's own thing, each payload no
    # JSON text (cloud/hub/ingest.py parse_payload) or nested past the parser; then a press and its result
    # land in the ledger and the history as ever.
    from cloud.hub.projection import SqliteStore
    from cloud.topology import jobs_topic, shadow_topic

    hostile = [b"[" * 5000 + b"]" * 5000, b'{"v":1,"type":"telemetry","at":1795730000,"x":NaN}',
               b'{"v":1,"type":"telemetry","at":1795730000,"x":"\\ud800"}', b"\xff\xfe{}"]
    topics = ["cat-feeder/cat-feeder/states", BUTTON, shadow_topic("cat-feeder", "update"),
              shadow_topic("cat-feeder", "get"), jobs_topic("cat-feeder", "$next/get"),
              jobs_topic("cat-feeder", "job-1/update")]
    for topic in topics:
        for payload in hostile:
            device.publish(topic, payload, 1)
    device.publish(BUTTON, press(7), 1)
    message = device.receive(10)
    assert message is not None
    command = json.loads(message[1])
    result = {"v": 1, "type": "result", "id": command["id"], "status": "dispensed", "bowls": ["left"],
              "at": int(time.time()), "seq": 1}
    device.publish("cat-feeder/cat-feeder/states", json.dumps(result), 1)

    def answered():
        store = SqliteStore(hub.history_path)
        try:
            return (store.get("press#" + command["id"])[0] or {}).get("outcome")
        finally:
            store.close()

    deadline = time.monotonic() + 10
    while answered() != "dispensed":
        assert time.monotonic() < deadline, "the press's result never reached the history"
        time.sleep(0.05)
    reasons = [reason for _, reason, _ in wait_for_rows(hub, 8)]
    assert len(reasons) == 8 and all(": " in reason for reason in reasons), reasons  # states and button
