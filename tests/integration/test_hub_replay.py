"""Replaying 10,000 ledger events moves no servo: a running hub, the firmware on MicroPython, and a
ledger of fresh presses (each still within its TTL, so a command would be dispensed) replayed in full
to every rule a replay may name."""

import logging
import sqlite3
import time

import pytest

from cloud.hub import ledger as ledger_mod
from cloud.hub.events import dedup_key
from cloud.hub.hub import Hub
from cloud.hub.replay import ReplayRefused, replay
from rigs.hubdata import press_event, result_event
from tools.demo_stage import DeviceProcess


def test_replaying_ten_thousand_events_moves_no_servo(pki, broker, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="hub")
    data_dir = tmp_path / "hub"
    data_dir.mkdir()
    ledger = ledger_mod.Ledger(str(data_dir / "ledger.sqlite3"))
    now = time.time()
    events = []
    for n in range(5000):
        press = press_event(n, at=int(now) - 60)  # whole seconds, as a press carries them
        events += [
            press,
            result_event(n + 1, press["detail"]["press_id"], "dispensed", int(now) - 59, ["left"]),
        ]
    ledger.append_batch([(event, dedup_key(event)) for event in events])
    # Live delivery happened long ago: every rule's cursor is at the end.
    ledger.db.executemany(
        "INSERT INTO cursors (rule, seq) VALUES (?, 10000)", [("feeds",), ("history",), ("replays",)]
    )
    ledger.close()
    device = DeviceProcess(str(tmp_path / "flash"), pki, broker.port)
    try:
        device.wait_for("app: up", 20)
        boot_writes = len(device.trace())  # a firmware may park its servos at boot
        until = time.time()  # the device's retained `online`, ingested once the hub starts, comes after
        hub = Hub(str(data_dir), pki, "127.0.0.1", broker.port).start()
        try:
            with pytest.raises(ReplayRefused):
                replay(hub.ledger_path, "with-feeds", 0, until, ["history", "feeds"])
            read, delivered = replay(
                hub.ledger_path, "everything", 0, until, ["history", "replays"], runtime=hub.runtime
            )
            time.sleep(1.0)  # what a command would need to reach the device and start a servo
        finally:
            hub.stop()
        assert (read, delivered) == (10000, 10000 + 5000)  # history: all; replays: the presses
        assert device.trace()[boot_writes:] == []
        db = sqlite3.connect(hub.ledger_path)
        # The device's retained `online` may follow; no result does: no command reached it.
        assert db.execute(
            "SELECT COUNT(*) FROM events WHERE seq > 10000 AND detail_type != 'DeviceStatus'"
        ).fetchone() == (0,)
        assert not [
            r for r in caplog.records if "rule feeds" in r.getMessage()
        ]  # the feeder was never called
        assert db.execute("SELECT COUNT(*) FROM queue_messages").fetchone() == (5000,)
        history = sqlite3.connect(str(data_dir / "history.sqlite3"))
        assert history.execute("SELECT COUNT(*) FROM items").fetchone() == (5001,)  # presses + the device
    finally:
        device.stop()
