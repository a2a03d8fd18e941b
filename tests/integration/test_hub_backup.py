"""Backup and restore (cloud/hub/backup.py) while the firmware on MicroPython presses its button into a
running hub (mosquitto over mutual TLS): the copy verifies with its checkpoint, N generations are
kept, a restore into a fresh directory holds every press of the copy once with the history as it
stood at the copy's checkpoint, and the restored hub resumes from the restored cursors (no command
for a press its `feeds` cursor had passed) with no servo moving twice. A backup that fails verify is
refused."""

import json
import os
import shutil
import sqlite3
import threading
import time

import pytest

from cloud.hub import backup as backup_mod
from cloud.hub import ledger as ledger_mod
from cloud.hub.__main__ import main
from cloud.hub.events import dedup_key
from cloud.hub.hub import Hub
from cloud.hub.hydrate import hydrate
from rigs.device import Device, dispense_starts, rig_config
from rigs.hubdata import press_event
from tools.sim_board import press_button


def select(path, sql):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def ledger_rows(path):
    return select(path, "SELECT seq, id, body, hash FROM events ORDER BY seq")


def press_ids(rows):
    events = [json.loads(body) for _, _, body, _ in rows]
    return [e["detail"]["press_id"] for e in events if e["detail-type"] == "FeedRequested"]


def history_items(path):
    return select(path, "SELECT key, version, doc FROM items ORDER BY key")


# Past the button's double-press window (config button.double_ms, 400 ms by default): separate presses.
PRESS_GAP_S = 0.6


def results(rows):
    """(press id, status, bowls) of the device's results, in ledger order."""
    events = [json.loads(body) for _, _, body, _ in rows]
    found = [e["detail"] for e in events if e["detail-type"] == "FeedResult"]
    return [(detail["id"], detail["status"], detail["bowls"]) for detail in found]


def answered(rows):
    """Every press answered twice: `dispensed` by the device at once, `duplicate` to the hub's command."""
    return 0 < 2 * len(press_ids(rows)) == len(results(rows))


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_backup_while_the_firmware_presses_then_restore_resumes_and_feeds_nothing_twice(
    pki, broker, tmp_path, capsys
):
    data_dir, dest = tmp_path / "hub", tmp_path / "backups"
    hub = Hub(str(data_dir), pki, "127.0.0.1", broker.port).start()
    device = Device(tmp_path / "flash", pki, rig_config(broker.port, button={"pin": 5}), compiled=True)
    device.start().wait_up()
    try:
        clicks = ["SINGLE", "DOUBLE"] * 3

        def press_all():
            for click in clicks:
                press_button(device.flash, click)
                time.sleep(PRESS_GAP_S)

        presser = threading.Thread(target=press_all)
        presser.start()  # each press feeds at once, is published, ingested, commanded, answered
        for _ in range(3):
            time.sleep(1.2)
            assert main(["backup", str(dest), "--keep", "2", "--data-dir", str(data_dir)]) == 0
        presser.join()
        time.sleep(1)  # the last gesture's double-press window, and its publish
        live = data_dir / "ledger.sqlite3"
        wait_for(lambda: answered(ledger_rows(live)), 30, "every press answered")
        # The presses the button recognised (a loaded machine may merge two into a DOUBLE) and their bowls.
        fed = sum(len(bowls) for _, status, bowls in results(ledger_rows(live)) if status == "dispensed")
        hub.stop()
        out = capsys.readouterr().out
        assert out.count("verified with its checkpoint") == 3
        generations = sorted(os.listdir(dest))
        assert len(generations) == 2  # the oldest of three removed
        newest = dest / generations[-1]
        copied = ledger_rows(newest / "ledger.sqlite3")
        assert 0 < len(copied) < len(ledger_rows(live)) and copied == ledger_rows(live)[: len(copied)]
        db = ledger_mod.connect(str(live), readonly=True)
        assert db.execute("SELECT COUNT(*), MAX(length) FROM backups").fetchone() == (3, len(copied))

        restored = tmp_path / "restored"
        assert main(["restore", str(newest), "--data-dir", str(restored)]) == 0
        assert ledger_rows(restored / "ledger.sqlite3") == copied
        pressed = press_ids(copied)
        assert len(pressed) == len(set(pressed)) > 0
        # The history as it stood at the copy's checkpoint: the live ledger's, hydrated up to that event.
        (until,) = db.execute("SELECT recorded_at FROM events WHERE seq = ?", (len(copied),)).fetchone()
        hydrate(str(live), str(tmp_path / "at-backup.sqlite3"), until)
        assert history_items(restored / "history.sqlite3") == history_items(tmp_path / "at-backup.sqlite3")
        assert main(["verify", "--no-broker", "--data-dir", str(restored)]) == 0, capsys.readouterr().out

        copy = sqlite3.connect(restored / "ledger.sqlite3")
        (feeds_cursor,) = copy.execute("SELECT seq FROM cursors WHERE rule = 'feeds'").fetchone()
        copy.close()
        passed = set(press_ids(copied[:feeds_cursor]))
        hub = Hub(str(restored), pki, "127.0.0.1", broker.port).start()
        try:
            time.sleep(3)  # the restored hub resumes its rules; the device answers what it is sent
        finally:
            hub.stop()
        after = ledger_rows(restored / "ledger.sqlite3")
        assert press_ids(after) == pressed  # no press twice
        answered_again = [(pid, status) for pid, status, _ in results(after[len(copied) :]) if pid in pressed]
        # Resumed from the restored cursor: only presses past it were commanded again, and the feeder
        # answered `duplicate` to those it had run: the servos moved once per bowl fed, not more.
        assert {pid for pid, _ in answered_again} <= set(pressed) - passed
        assert {status for _, status in answered_again} <= {"duplicate"}
        assert len(dispense_starts(device.trace())) == fed
    finally:
        device.kill()


@pytest.fixture
def one_backup(tmp_path):
    (tmp_path / "hub").mkdir()
    ledger = ledger_mod.Ledger(str(tmp_path / "hub" / "ledger.sqlite3"))
    ledger.append_batch([(press_event(i), dedup_key(press_event(i))) for i in range(6)])
    ledger.close()
    path, events = backup_mod.take(str(tmp_path / "hub"), str(tmp_path / "backups"))
    assert events == 6
    return path


def test_restore_refuses_a_backup_that_fails_verify_and_a_directory_holding_a_ledger(
    one_backup, tmp_path, capsys
):
    truncated = tmp_path / "truncated"
    shutil.copytree(one_backup, truncated)
    db = sqlite3.connect(truncated / "ledger.sqlite3")
    db.execute("DROP TRIGGER events_no_delete")
    db.execute("DELETE FROM events WHERE seq = 6")
    db.commit()
    db.close()
    assert main(["restore", str(truncated), "--data-dir", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert "fails verify" in err and "the ledger ends at seq 5, before the checkpoint" in err
    assert not (tmp_path / "a" / "ledger.sqlite3").exists()
    assert main(["restore", str(one_backup), "--data-dir", str(tmp_path / "hub")]) == 1
    assert "already holds a ledger" in capsys.readouterr().err
