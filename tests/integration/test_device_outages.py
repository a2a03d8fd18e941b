"""The whole firmware through outages: a broker crash, the device being off, a faulty network.

Results must neither be lost nor published under two seqs, and seq stays gap-free. A command
redelivered because its PUBACK never reached the broker comes back as `duplicate`, a result of
its own (the protocol reports every delivery), never as a second dispense.
"""

import time

from rigs.device import (
    ACTION,
    BACKOFF_CAP_MS,
    Device,
    command,
    dispense_starts,
    rig_config,
    wait_for,
)

# From "fault cleared" to "up": the backoff cap, one TLS connect, and a margin for a loaded machine.
RECOVERY_S = BACKOFF_CAP_MS / 1000 + 3
EVENTS = ("SINGLE", "DOUBLE", "LONG")


def assert_each_dispensed_once(results, ids, trace):
    for command_id in ids:
        statuses = [r["status"] for r in results[command_id]]
        assert statuses.count("dispensed") == 1, (command_id, statuses)
        assert set(statuses) <= {"dispensed", "duplicate"}, (command_id, statuses)
    bowls = sum(len(results[command_id][0]["bowls"]) for command_id in ids)
    assert len(dispense_starts(trace)) == bowls


def test_broker_killed_mid_stream_loses_and_repeats_nothing(tmp_path, pki, broker, mqtt, observer):
    device = Device(tmp_path / "flash", pki, rig_config(broker.port)).start()
    device.wait_up()
    ids = ["press-crash-%d" % n for n in range(12)]
    publisher = mqtt("publisher")
    for n, command_id in enumerate(ids[:8]):
        publisher.publish(ACTION, command(command_id, EVENTS[n % 3]))
    publisher.close()
    # Kill while the device is dispensing (the 4th bowl opening): results queue in its outbox.
    wait_for(lambda: len(dispense_starts(device.trace())) >= 4, 20, "the 4th dispense")
    broker.kill()
    observer.client.sock.close()
    time.sleep(0.5)
    broker.start()  # same port, same persistence file
    observer.reconnect()
    device.expect("app: up", RECOVERY_S + 10)
    publisher = mqtt("publisher")
    for n, command_id in enumerate(ids[8:]):
        publisher.publish(ACTION, command(command_id, EVENTS[n % 3]))
    results = observer.collect(ids, timeout_s=30)
    observer.assert_seq_gap_free()
    assert_each_dispensed_once(results, ids, device.trace())
    device.kill()


def test_commands_sent_while_the_device_is_off_are_dispensed_once_or_expire(
        tmp_path, pki, broker, mqtt, observer):
    device = Device(tmp_path / "flash", pki, rig_config(broker.port)).start()
    device.wait_up()
    publisher = mqtt("publisher")
    publisher.publish(ACTION, command("press-before"))
    observer.collect(["press-before"])
    device.kill()
    fresh = ["press-offline-%d" % n for n in range(3)]
    for n, command_id in enumerate(fresh):
        publisher.publish(ACTION, command(command_id, EVENTS[n]))
    publisher.publish(ACTION, command("press-goes-stale", ttl=1))
    time.sleep(2.1)  # the stale one's TTL runs out while the device is off
    device.start()
    device.wait_up()
    results = observer.collect(fresh + ["press-goes-stale"])
    assert [r["status"] for r in results["press-goes-stale"]] == ["expired"]
    assert_each_dispensed_once(results, ["press-before"] + fresh, device.trace())
    # A second reboot replays nothing: the broker's session is drained and the journal remembers.
    device.kill()
    device.start()
    device.wait_up()
    publisher.publish(ACTION, command("press-marker"))
    observer.collect(["press-marker"])
    assert sorted(observer.by_id()) == sorted(["press-before", "press-goes-stale", "press-marker"] + fresh)
    observer.assert_seq_gap_free()
    device.kill()


def test_device_recovers_from_stall_cut_and_half_close_within_the_backoff_cap(
        tmp_path, pki, broker, proxy, mqtt, observer):
    device = Device(tmp_path / "flash", pki, rig_config(proxy.port)).start()
    device.wait_up()
    publisher = mqtt("publisher")
    ids = []
    for fault in ("stall", "cut", "half_close"):
        getattr(proxy, fault)()
        # Queued by the broker while the link is broken; a stall is only noticed by the missing
        # PINGRESP (keepalive 10 s: a ping after 5 s, then timeout_ms 2 s).
        command_id = "press-after-" + fault
        publisher.publish(ACTION, command(command_id))
        ids.append(command_id)
        device.expect("app: down", 12)
        if fault == "stall":
            proxy.resume()
        device.expect("app: up", RECOVERY_S)
        observer.collect([command_id], timeout_s=10)
    observer.assert_seq_gap_free()
    assert_each_dispensed_once(observer.by_id(), ids, device.trace())
    device.kill()
