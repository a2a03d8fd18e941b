"""A backlog never loses a result: flow control instead of drops, on MicroPython against mosquitto.

The outbox is made small (8) so that mosquitto's in-flight window (20 unacknowledged QoS 1
messages per client) is larger than the room the device has for results: the device must leave
commands at the broker and resync, as it would on AWS IoT (100 in flight) with its default 64.
Servo waits are off (the PWM writes are still traced), so 40 commands take seconds.
"""

import time

from rigs.device import ACTION, Device, command, dispense_starts, rig_config

CAPACITY = 8
COMMANDS = 5 * CAPACITY
EVENTS = ("SINGLE", "DOUBLE", "LONG")
BOWLS = {"SINGLE": 1, "DOUBLE": 1, "LONG": 2}


def backlog_device(tmp_path, pki, broker):
    config = rig_config(broker.port, storage={"dir": "data", "outbox_capacity": CAPACITY},
                        telemetry_interval_s=10, sim={"servo_wait": False})
    return Device(tmp_path / "flash", pki, config)


def publish_backlog(mqtt):
    publisher = mqtt("publisher")
    ids = ["backlog-%03d" % n for n in range(COMMANDS)]
    for n, command_id in enumerate(ids):
        publisher.publish(ACTION, command(command_id, EVENTS[n % 3]))
    return ids


def assert_one_result_each_and_nothing_lost(observer, device, ids):
    results = observer.collect(ids, timeout_s=60)
    assert sorted(results) == sorted(ids)
    assert all([r["status"] for r in results[i]] == ["dispensed"] for i in ids), results
    observer.assert_seq_gap_free()
    assert len(observer.results) == COMMANDS  # one result per command: nothing dropped, nothing extra
    assert len(dispense_starts(device.trace())) == sum(BOWLS[EVENTS[n % 3]] for n in range(COMMANDS))
    # Flow control really ran: the device left commands at the broker and fetched them again.
    assert [line for line in device.output() if line.startswith("app: resync")], device.output()[-20:]


def test_a_backlog_published_while_connected_gets_every_result_promptly(
        tmp_path, pki, broker, mqtt, observer):
    device = backlog_device(tmp_path, pki, broker).start()
    device.wait_up()
    started = time.monotonic()
    ids = publish_backlog(mqtt)
    observer.collect(ids[:1], timeout_s=5)
    assert observer.received_at[1] - started < 1.0  # the first result does not wait for the backlog
    assert_one_result_each_and_nothing_lost(observer, device, ids)
    assert observer.wait_for_telemetry()["dropped"] == 0
    device.kill()


def test_a_backlog_queued_while_the_device_was_off_gets_every_result(tmp_path, pki, broker, mqtt, observer):
    device = backlog_device(tmp_path, pki, broker).start()
    device.wait_up()  # the persistent session exists from now on, so the broker queues for it
    device.kill()
    ids = publish_backlog(mqtt)
    device.start()
    device.wait_up()
    up = time.monotonic()
    observer.collect(ids[:1], timeout_s=5)
    assert observer.received_at[1] - up < 1.0
    assert_one_result_each_and_nothing_lost(observer, device, ids)
    assert observer.wait_for_telemetry()["dropped"] == 0
    device.kill()
