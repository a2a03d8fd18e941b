"""The self-hosted hub (cloud/hub/): press latency, ledger ingest, projection rebuild.

    .venv/bin/python bench/hub.py            (make bench runs it)

1. Press -> servo start, over PRESSES presses one at a time: a button message published to mosquitto
   (mutual TLS), ingested by the hub and committed to its ledger (fsync), matched by the `feeds` rule,
   turned into a command by the feeder handler, published to mosquitto, received by the firmware on
   MicroPython's unix port, journaled, and its first PWM write. Both ends read CLOCK_MONOTONIC (the
   trace's ticks_us and time.monotonic_ns() here). The servo waits are skipped (sim.servo_wait false),
   commands live TTL_S (COMMAND_TTL_S and the device's max_ttl_s) and presses carry whole seconds, as
   the firmware's journal stores them; a fresh device every PER_DEVICE presses (see there).
2. Ledger ingest, each event durable (committed, synchronous=FULL) before its acknowledgement:
   the hub's ingest path alone (button handler, group commit, ack) in groups of WINDOW messages;
   end to end over MQTT (INGEST presses published at QoS 1 as fast as one client can, timed from the
   first publish to the last commit: bounded by mosquitto, which saves its persistence file after
   every change, and by the rules sharing the hub's process); and the ledger alone.
3. Projection rebuild: a brand-new history hydrated from a ledger of REBUILD events (half presses,
   half results) through the hub's replay to the `history` rule.
"""

import copy
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.device import percentile  # noqa: E402
from cloud.hub import ledger as ledger_mod  # noqa: E402
from cloud.hub.broker import Broker  # noqa: E402
from cloud.hub.events import LedgerEvents, dedup_key  # noqa: E402
from cloud.hub.hub import Hub  # noqa: E402
from cloud.hub.hydrate import hydrate  # noqa: E402
from cloud.hub.ingest import Ingest, mqtt_client  # noqa: E402
from cloud.hub.pki import Pki  # noqa: E402
from cloud.hub.runtime import Runtime  # noqa: E402
from cloud.topology import TOPOLOGY  # noqa: E402
from rigs.device import Device, rig_config  # noqa: E402
from rigs.hubdata import press_event, result_event  # noqa: E402

PRESSES = 500
INGEST = 20000
LEDGER_ONLY = 20000
WINDOW = 20  # mosquitto's max_inflight_messages default: unacknowledged messages it sends the hub
REBUILD = 100_000
BUTTON = "cat-feeder/cat-feeder/button"
TTL_S = 3
# Every press feeds the left bowl, and the feeding cap allows at most 128 portions a day per bowl
# (firmware/cap.py), so a fresh device takes over every PER_DEVICE presses.
PER_DEVICE = 125
SPACING_S = 0.02


def press_latencies(workdir, pki, broker):
    config = rig_config(
        broker.port,
        commands={"default_ttl_s": TTL_S, "max_ttl_s": TTL_S},
        sim={"trace": "servo.trace", "servo_wait": False},
    )
    topology = copy.deepcopy(TOPOLOGY)
    topology["functions"]["feeder"]["environment"]["COMMAND_TTL_S"] = str(TTL_S)
    hub = Hub(os.path.join(workdir, "hub-latency"), pki, "127.0.0.1", broker.port, topology).start()
    button = mqtt_client(pki, "device", "bench-button")
    button.connect("127.0.0.1", broker.port)
    button.loop_start()
    latencies = []
    try:
        for session in range(PRESSES // PER_DEVICE):
            flash = os.path.join(workdir, "flash-%d" % session)
            device = Device(flash, pki, config, heapsize="256K", compiled=True).start()
            device.wait_up()
            try:
                for _ in range(PER_DEVICE):
                    latencies.append(press_to_servo(button, device, hub, len(latencies) + 1))
                    time.sleep(SPACING_S)
            finally:
                device.kill()
    finally:
        button.loop_stop()
        button.disconnect()
        hub.stop()
    return latencies


def press_to_servo(button, device, hub, seq):
    before = len(device.trace())
    published_us = time.monotonic_ns() // 1000
    button.publish(BUTTON, json.dumps({"v": 1, "event": "SINGLE", "at": int(time.time()), "seq": seq}), 1)
    deadline = time.monotonic() + 10
    while len(trace := device.trace()) <= before:
        if time.monotonic() > deadline:
            db = ledger_mod.connect(hub.ledger_path, readonly=True)
            last = [event["detail"] for _, event in ledger_mod.read(db)][-2:]
            raise SystemExit("bench: press %d moved no servo; the ledger ends with %s" % (seq, last))
        time.sleep(0.0005)
    return (trace[before][0] - published_us) / 1000


def ledger_count(path):
    db = ledger_mod.connect(path, readonly=True)
    (count,) = db.execute("SELECT COUNT(*) FROM events").fetchone()
    db.close()
    return count


def ingest_rate(workdir, pki, broker):
    hub = Hub(os.path.join(workdir, "hub-ingest"), pki, "127.0.0.1", broker.port).start()
    # Nothing to feed: only the ingest is measured (the rules still run, on their own threads).
    publisher = mqtt_client(pki, "device", "bench-ingest")
    publisher.max_inflight_messages_set(1000)
    publisher.max_queued_messages_set(0)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    at = int(time.time()) - 3600  # an hour old: the feeder answers "expired" without publishing
    try:
        start = time.monotonic()
        for seq in range(INGEST):
            publisher.publish(BUTTON, json.dumps({"v": 1, "event": "SINGLE", "at": at, "seq": seq}), 1)
        while ledger_count(hub.ledger_path) < INGEST:
            time.sleep(0.01)
            if time.monotonic() - start > 120:
                raise SystemExit("bench: ingest stalled at %d" % ledger_count(hub.ledger_path))
        elapsed = time.monotonic() - start
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        hub.stop()
    return INGEST / elapsed


class Message:
    """What paho hands the ingest: topic, payload, mid, qos."""

    def __init__(self, topic, payload, mid):
        self.topic, self.payload, self.mid, self.qos = topic, payload, mid, 1


def ingest_path_rate(workdir, pki):
    """The hub's ingest without the network: batches of WINDOW messages (mosquitto's default in-flight
    window) through the button handler into the ledger, committed (fsync), then acknowledged."""
    ledger = ledger_mod.Ledger(os.path.join(workdir, "ingest-path.sqlite3"))
    events = LedgerEvents()
    ingest = Ingest(ledger, events, Runtime(events=events), pki, "127.0.0.1", 1, on_commit=lambda: None)
    at = int(time.time())
    messages = [
        Message(
            BUTTON, json.dumps({"v": 1, "event": "SINGLE", "at": at, "seq": seq}).encode(), seq % 65535 + 1
        )
        for seq in range(INGEST)
    ]
    try:
        start = time.monotonic()
        for first in range(0, INGEST, WINDOW):
            ingest.commit(messages[first : first + WINDOW])
        elapsed = time.monotonic() - start
    finally:
        ledger.close()
    assert ledger_count(ledger.path) == INGEST
    return INGEST / elapsed


def events_for(count, t0):
    events = []
    for n in range(count // 2):
        press = press_event(n, at=t0 + n)
        events += [press, result_event(n + 1, press["detail"]["press_id"], "dispensed", t0 + n + 1, ["left"])]
    return events


def ledger_only_rate(workdir):
    ledger = ledger_mod.Ledger(os.path.join(workdir, "ledger-only.sqlite3"))
    events = [(event, dedup_key(event)) for event in events_for(LEDGER_ONLY, 1_700_000_000)]
    start = time.monotonic()
    for first in range(0, len(events), 100):
        ledger.append_batch(events[first : first + 100])
    elapsed = time.monotonic() - start
    ledger.close()
    return LEDGER_ONLY / elapsed


def rebuild_rate(workdir):
    path = os.path.join(workdir, "rebuild.sqlite3")
    ledger = ledger_mod.Ledger(path)
    events = [(event, dedup_key(event)) for event in events_for(REBUILD, 1_600_000_000)]
    for first in range(0, len(events), 5000):
        ledger.append_batch(events[first : first + 5000])
    ledger.close()
    start = time.monotonic()
    read, projected = hydrate(path, os.path.join(workdir, "rebuilt.sqlite3"))
    elapsed = time.monotonic() - start
    assert read == projected == REBUILD, (read, projected)
    return REBUILD / elapsed, elapsed


def main():
    print(
        "command: .venv/bin/python bench/hub.py (hub in-process, mosquitto over mutual TLS, firmware on"
        " MicroPython's unix port)"
    )
    with tempfile.TemporaryDirectory() as workdir:
        pki = Pki(os.path.join(workdir, "pki")).ensure()
        broker = Broker(pki, os.path.join(workdir, "broker")).start()
        try:
            latencies = press_latencies(workdir, pki, broker)
            ingest = ingest_rate(workdir, pki, broker)
        finally:
            broker.stop()
        ingest_path = ingest_path_rate(workdir, pki)
        ledger_only = ledger_only_rate(workdir)
        rebuild, rebuild_s = rebuild_rate(workdir)
    p99 = percentile(latencies, 99)
    print(
        "press -> servo start through the hub, %d presses: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
        " (goal p99 < 50 ms: %s)"
        % (PRESSES, statistics.median(latencies), p99, max(latencies), "met" if p99 < 50 else "NOT met")
    )
    print(
        "ledger ingest over MQTT, durable before PUBACK, %d presses: %.0f events/s (mosquitto saves its"
        " persistence file after every change: autosave_on_changes)" % (INGEST, ingest)
    )
    print(
        "hub ingest path (button handler, ledger commit with fsync, then ack), %d presses in groups of %d:"
        " %.0f events/s (goal >= 2,000/s: %s)"
        % (INGEST, WINDOW, ingest_path, "met" if ingest_path >= 2000 else "NOT met")
    )
    print("ledger alone, 100 events per commit (synchronous=FULL): %.0f events/s" % ledger_only)
    print(
        "projection rebuild from %d ledger events: %.0f events/s in %.1f s (goal >= 20,000/s: %s)"
        % (REBUILD, rebuild, rebuild_s, "met" if rebuild >= 20000 else "NOT met")
    )


if __name__ == "__main__":
    main()
