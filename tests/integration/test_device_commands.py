"""The whole firmware on MicroPython against mosquitto (mutual TLS): command in, servo moves, result out.

Commands come from the cloud-publisher certificate, results are read by the cloud observer,
servo motion from the sim HAL's trace file (rigs/device.py explains the calibration).
"""

import time

import pytest

from rigs.device import (
    ACTION,
    LEFT_PULSES,
    PARK_WRITES,
    RIGHT_PULSES,
    Device,
    command,
    dispense_starts,
    rig_config,
)


@pytest.fixture
def device(tmp_path, pki, broker):
    rig = Device(tmp_path / "flash", pki, rig_config(broker.port)).start()
    rig.wait_up()
    yield rig
    rig.kill()


def bowl_writes(pulses):
    """A bowl's dispense: open, detach, close, detach."""
    pin, open_ns, rest_ns = pulses
    return [(pin, open_ns), (pin, 0), (pin, rest_ns), (pin, 0)]


@pytest.mark.parametrize("event, expected_bowls, expected_writes", [
    ("SINGLE", ["left"], bowl_writes(LEFT_PULSES)),
    ("DOUBLE", ["right"], bowl_writes(RIGHT_PULSES)),
    ("LONG", ["left", "right"], bowl_writes(LEFT_PULSES) + bowl_writes(RIGHT_PULSES)),
])
def test_command_dispenses_the_right_servo_with_calibrated_pulses(
        event, expected_bowls, expected_writes, device, observer, mqtt):
    mqtt("publisher").publish(ACTION, command("press-" + event, event))
    result = observer.collect(["press-" + event])["press-" + event]
    assert [(r["status"], r["bowls"], r["seq"], r["thing"]) for r in result] == [
        ("dispensed", expected_bowls, 1, "cat-feeder")]
    assert [(pin, duty) for _, pin, duty in device.trace()] == PARK_WRITES + expected_writes


def test_redelivered_id_is_a_duplicate_and_nothing_moves(device, observer, mqtt):
    publisher = mqtt("publisher")
    publisher.publish(ACTION, command("press-twice"))
    observer.collect(["press-twice"])
    moves = device.trace()
    publisher.publish(ACTION, command("press-twice", "LONG"))
    publisher.publish(ACTION, command("press-after"))  # a marker: its result comes after the duplicate's
    results = observer.collect(["press-after"])
    assert [r["status"] for r in results["press-twice"]] == ["dispensed", "duplicate"]
    assert results["press-twice"][1]["bowls"] == []
    assert len(dispense_starts(device.trace())) == len(dispense_starts(moves)) + 1  # press-after only


def test_expired_command_is_refused_and_nothing_moves(device, observer, mqtt):
    mqtt("publisher").publish(ACTION, command("press-stale", issued_at=int(time.time()) - 100, ttl=30))
    assert [r["status"] for r in observer.collect(["press-stale"])["press-stale"]] == ["expired"]
    assert [(pin, duty) for _, pin, duty in device.trace()] == PARK_WRITES


def test_garbage_wrong_types_and_oversize_are_rejected_and_the_device_keeps_running(device, observer, mqtt):
    publisher = mqtt("publisher")
    bad = [
        b"\xff\xfenot json at all",
        b'{"v": 1, "id": 42, "event": "SINGLE", "issued_at": 1}',
        b'{"v": 1, "id": "press-types", "event": ["SINGLE"], "issued_at": "now"}',
        b"[1, 2, 3]",
        b'{"v": 1, "id": "press-float", "event": "SINGLE", "issued_at": %.1f}' % (time.time() - 1),
        b'{"v": 2, "id": "press-v2", "event": "SINGLE", "issued_at": 1}',
        b'{"v": 1, "id": "press-big", "event": "SINGLE", "issued_at": 1, "pad": "' + b"x" * 102400 + b'"}',
    ]
    for payload in bad:
        publisher.publish(ACTION, payload)
    publisher.publish(ACTION, command("press-good"))
    observer.collect(["press-good"])
    rejected = [observer.results[seq] for seq in sorted(observer.results)][:len(bad)]
    assert [r["status"] for r in rejected] == ["rejected"] * len(bad)
    assert all(r["reason"] and r["bowls"] == [] for r in rejected)
    assert rejected[-1]["reason"] == "payload: over 1024 bytes"
    assert (rejected[4]["id"], rejected[4]["reason"]) == ("press-float", (
        "issued_at: expected integer Unix seconds, not a float (single precision on the device)"))
    assert (rejected[5]["id"], rejected[5]["reason"]) == ("press-v2", "v: expected 1")
    assert observer.by_id()["press-good"][0]["status"] == "dispensed"
    assert len(dispense_starts(device.trace())) == 1
    assert device.running() and not [line for line in device.log if "error" in line]
