"""The device is killed (SIGKILL, like a power cut) at 50 random moments while commands stream in.

Seeded, so a failure reproduces. What must hold across the whole run:
- every id gets a result, and at most one `dispensed` or `interrupted` one (never fed twice);
- the servo trace (appended and flushed per PWM write by the sim HAL, so it survives the kill)
  shows no motion beyond what those results account for: with D the bowls of `dispensed` results
  and I those of `interrupted` ones, D <= bowl openings <= D + I. A second dispense of an id, or a
  dispense whose result was lost, would break the upper bound;
- seq is gap-free and no seq carries two different results.
"""

import random
import threading
import time

from rigs.device import ACTION, Device, Observer, command, dispense_starts, rig_config

KILLS = 50
SEED = 20261126
EVENTS = ("SINGLE", "DOUBLE", "LONG")
# Slower than the device dispenses (0.3-0.7 s each) even with its reboots, so no backlog builds up.
STREAM_INTERVAL_S = 0.8


def test_sigkill_at_random_moments_never_feeds_twice_nor_loses_a_result(tmp_path, pki, broker, mqtt):
    rng = random.Random(SEED)
    observer = Observer(pki, broker.port)
    device = Device(tmp_path / "flash", pki, rig_config(broker.port))
    publisher = mqtt("publisher")
    ids = []
    done = threading.Event()

    def stream_commands():
        n = 0
        while not done.is_set():
            command_id = "press-%d" % n
            publisher.publish(ACTION, command(command_id, EVENTS[n % 3]))
            ids.append(command_id)
            n += 1
            done.wait(STREAM_INTERVAL_S)

    # The first connect creates the device's persistent session; commands sent before it would
    # have no subscriber to be queued for (as in AWS IoT).
    device.start()
    device.wait_up()
    device.kill()
    streamer = threading.Thread(target=stream_commands)
    streamer.start()
    try:
        for _ in range(KILLS):
            device.start()
            # Anywhere from mid-boot or mid-handshake to mid-dispense.
            time.sleep(rng.uniform(0.05, 0.9))
            device.kill()
            observer.pump(0.01)  # keep up with the results meanwhile
    finally:
        done.set()
        streamer.join()
    device.start()
    device.wait_up()
    results = observer.collect(ids, timeout_s=60)
    device.kill()
    observer.close()

    assert set(results) == set(ids)
    moved = {"dispensed": 0, "interrupted": 0}
    for command_id in ids:
        fed = [r for r in results[command_id] if r["status"] in moved]
        assert len(fed) <= 1, (command_id, results[command_id])
        for result in fed:
            moved[result["status"]] += len(result["bowls"])
    openings = len(dispense_starts(device.trace()))
    assert moved["dispensed"] <= openings <= moved["dispensed"] + moved["interrupted"], (moved, openings)
    assert moved["dispensed"] > 0
    observer.assert_seq_gap_free()
