"""Backup and restore (cloud/hub/backup.py) while presses stream into a running hub: the copy verifies
with its checkpoint, N generations are kept, a restore into a fresh directory holds every press of
the copy once with the history as it stood at the copy's checkpoint, and the restored hub resumes from
the restored cursors (no command for a press its `feeds` cursor had passed). A backup that fails
verify is refused."""

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
from cloud.topology import ACTION_TOPIC, STATES_TOPIC
from tests.hub.hubdata import press_event

BUTTON = "cat-feeder/cat-feeder/button"
BOWLS = {"SINGLE": ["left"], "DOUBLE": ["right"], "LONG": ["left", "right"]}


class StreamingFeeder:
    """A stand-in feeder pressing its button every few ms and answering each command once."""

    def __init__(self, client):
        self.client = client
        self.commands = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        seq = 0
        while not self.stopping.is_set():
            seq += 1
            click = ("SINGLE", "DOUBLE", "LONG")[seq % 3]
            press = {"v": 1, "event": click, "at": int(time.time()), "seq": seq}
            self.client.publish(BUTTON, json.dumps(press), 1)
            self.answer(0.005)

    def answer(self, timeout_s):
        message = self.client.receive(timeout_s)
        while message is not None:
            command = json.loads(message[1])
            self.commands.append(command["id"])
            result = {
                "v": 1,
                "type": "result",
                "thing": "cat-feeder",
                "seq": len(self.commands),
                "id": command["id"],
                "status": "dispensed",
                "bowls": BOWLS[command["event"]],
                "at": int(time.time()),
            }
            self.client.publish(STATES_TOPIC, json.dumps(result), 1)
            message = self.client.receive(0.001)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(10)


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


def test_backup_while_presses_stream_and_restore_resumes_without_feeding_twice(
    pki, broker, mqtt, tmp_path, capsys
):
    data_dir, dest = tmp_path / "hub", tmp_path / "backups"
    hub = Hub(str(data_dir), pki, "127.0.0.1", broker.port).start()
    device = mqtt("device", client_id="cat-feeder")
    assert device.subscribe(ACTION_TOPIC, 1) == 1
    with StreamingFeeder(device) as feeder:
        time.sleep(0.5)
        for _ in range(3):
            assert main(["backup", str(dest), "--keep", "2", "--data-dir", str(data_dir)]) == 0
            time.sleep(0.2)
    time.sleep(1)
    hub.stop()
    out = capsys.readouterr().out
    assert out.count("verified with its checkpoint") == 3
    generations = sorted(os.listdir(dest))
    assert len(generations) == 2  # the oldest of three removed
    newest = dest / generations[-1]
    copied = ledger_rows(newest / "ledger.sqlite3")
    live = ledger_rows(data_dir / "ledger.sqlite3")
    assert 0 < len(copied) < len(live) and copied == live[: len(copied)]
    db = ledger_mod.connect(str(data_dir / "ledger.sqlite3"), readonly=True)
    assert db.execute("SELECT COUNT(*), MAX(length) FROM backups").fetchone() == (3, len(copied))

    restored = tmp_path / "restored"
    assert main(["restore", str(newest), "--data-dir", str(restored)]) == 0
    assert ledger_rows(restored / "ledger.sqlite3") == copied
    pressed = press_ids(copied)
    assert len(pressed) == len(set(pressed)) > 0
    # The history as it stood at the copy's checkpoint: the live ledger's, hydrated up to that event.
    (until,) = db.execute("SELECT recorded_at FROM events WHERE seq = ?", (len(copied),)).fetchone()
    hydrate(str(data_dir / "ledger.sqlite3"), str(tmp_path / "at-backup.sqlite3"), until)
    assert history_items(restored / "history.sqlite3") == history_items(tmp_path / "at-backup.sqlite3")
    verified = main(["verify", "--no-broker", "--data-dir", str(restored)])
    assert verified == 0, capsys.readouterr().out

    copy = sqlite3.connect(restored / "ledger.sqlite3")
    (feeds_cursor,) = copy.execute("SELECT seq FROM cursors WHERE rule = 'feeds'").fetchone()
    copy.close()
    passed = set(press_ids(copied[:feeds_cursor]))
    feeder.commands.clear()
    hub = Hub(str(restored), pki, "127.0.0.1", broker.port).start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            feeder.answer(0.1)
        # Resumed from the restored cursor: only presses past it are sent again (same ids: the feeder
        # answers `duplicate` to those it ran), never one the cursor had passed.
        assert set(feeder.commands) <= set(pressed) - passed
        assert len(feeder.commands) == len(set(feeder.commands))
        assert press_ids(ledger_rows(restored / "ledger.sqlite3")) == pressed  # no press twice
    finally:
        hub.stop()


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
