"""Anchored checkpoints (cloud/hub/checkpoint.py): `verify` reports a ledger whose newest events were
deleted (triggers dropped), given the checkpoint retained on the broker or the checkpoint file; a
checkpoint file edited alone is reported too."""

import json
import shutil
import sqlite3
import time

import pytest

from cloud.hub import checkpoint
from cloud.hub.__main__ import main
from cloud.hub.hub import Hub

BUTTON = "cat-feeder/cat-feeder/button"
PRESSES = 32


@pytest.fixture
def stopped_hub(pki, broker, mqtt, tmp_path):
    """A hub that ingested PRESSES presses and stopped cleanly (its stop checkpoint is written)."""
    hub = Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port).start()
    device = mqtt("device", client_id="cat-feeder")
    at = int(time.time())
    for seq in range(PRESSES):
        device.publish(BUTTON, json.dumps({"v": 1, "event": "SINGLE", "at": at, "seq": seq}), 1)
    deadline = time.monotonic() + 20
    while count(hub.ledger_path) < PRESSES and time.monotonic() < deadline:
        time.sleep(0.05)
    hub.stop()
    return tmp_path / "hub"


def count(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def copy_truncated(data_dir, into, newest, files=(checkpoint.PUBLIC_KEY_FILE,)):
    """A copy of the ledger, triggers dropped and the `newest` rows deleted, with `files` beside it."""
    into.mkdir()
    shutil.copy(data_dir / "ledger.sqlite3", into / "ledger.sqlite3")
    for name in files:
        shutil.copy(data_dir / name, into / name)
    db = sqlite3.connect(into / "ledger.sqlite3")
    db.execute("DROP TRIGGER events_no_delete")
    db.execute("DELETE FROM events WHERE seq > ?", (PRESSES - newest,))
    db.commit()
    db.close()
    return into


def verify(capsys, *args):
    code = main(["verify", *args])
    return code, capsys.readouterr().out


def test_a_clean_stop_leaves_a_signed_checkpoint_in_the_file_and_on_the_broker(
    stopped_hub, pki, broker, capsys
):
    ((_, last),) = checkpoint.read_file(stopped_hub)[-1:]
    assert last["length"] == PRESSES
    assert checkpoint.fetch_retained(pki, "127.0.0.1", broker.port) == last
    code, out = verify(
        capsys, "--data-dir", str(stopped_hub), "--pki", pki.dir, "--broker-port", str(broker.port)
    )
    assert code == 0, out
    assert "%d events, hash chain intact" % PRESSES in out and "2 checkpoints checked" in out
    assert (stopped_hub / checkpoint.KEY_FILE).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("newest", [1, 5, PRESSES - 1])
def test_truncation_is_reported_from_the_checkpoint_file(stopped_hub, tmp_path, capsys, newest):
    copy = copy_truncated(
        stopped_hub, tmp_path / "copy", newest, (checkpoint.PUBLIC_KEY_FILE, checkpoint.CHECKPOINTS_FILE)
    )
    code, out = verify(capsys, "--data-dir", str(copy), "--no-broker")
    assert code == 1
    assert "hash chain intact" in out  # the chain alone cannot see it
    assert "the ledger ends at seq %d, before the checkpoint of" % (PRESSES - newest) in out


@pytest.mark.parametrize("newest", [1, 5, PRESSES - 1])
def test_truncation_is_reported_from_the_checkpoint_on_the_broker(
    stopped_hub, tmp_path, pki, broker, capsys, newest
):
    copy = copy_truncated(stopped_hub, tmp_path / "copy", newest)  # no checkpoint file at all
    code, out = verify(capsys, "--data-dir", str(copy), "--pki", pki.dir, "--broker-port", str(broker.port))
    assert code == 1
    assert "checkpoint on the broker: the ledger ends at seq %d" % (PRESSES - newest) in out


def test_an_edited_checkpoint_file_is_reported(stopped_hub, tmp_path, capsys):
    copy = copy_truncated(
        stopped_hub, tmp_path / "copy", 5, (checkpoint.PUBLIC_KEY_FILE, checkpoint.CHECKPOINTS_FILE)
    )
    # The truncation hidden by rewriting the last checkpoint to the new end, without the key.
    db = sqlite3.connect(copy / "ledger.sqlite3")
    length, head = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    path = copy / checkpoint.CHECKPOINTS_FILE
    lines = path.read_text().splitlines()
    edited = dict(json.loads(lines[-1]), length=length, head=head)
    path.write_text("\n".join(lines[:-1] + [json.dumps(edited)]) + "\n")
    code, out = verify(capsys, "--data-dir", str(copy), "--no-broker")
    assert code == 1
    assert "checkpoint file line %d: signature does not verify (edited or forged)" % len(lines) in out
    # The file edited alone, the ledger untouched: reported too.
    untouched = tmp_path / "untouched"
    untouched.mkdir()
    for name in ("ledger.sqlite3", checkpoint.PUBLIC_KEY_FILE):
        shutil.copy(stopped_hub / name, untouched / name)
    (untouched / checkpoint.CHECKPOINTS_FILE).write_text(path.read_text())
    code, out = verify(capsys, "--data-dir", str(untouched), "--no-broker")
    assert code == 1 and "signature does not verify" in out


def test_checkpoints_are_taken_while_events_arrive(pki, broker, mqtt, tmp_path):
    hub = Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port, checkpoint_interval_s=0.2).start()
    try:
        device = mqtt("device", client_id="cat-feeder")
        device.publish(BUTTON, json.dumps({"v": 1, "event": "LONG", "at": int(time.time()), "seq": 1}), 1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lengths = [cp["length"] for _, cp in checkpoint.read_file(tmp_path / "hub")]
            if lengths and lengths[-1] == 1:
                break
            time.sleep(0.05)
        assert lengths[-1] == 1
        assert checkpoint.fetch_retained(pki, "127.0.0.1", broker.port)["length"] == 1
    finally:
        hub.stop()
