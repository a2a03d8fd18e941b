"""The hub's ledger (cloud/hub/ledger.py): append-only, deduplicated, hash-chained; tampering caught."""

import sqlite3
import subprocess
import sys
import uuid

import pytest

from cloud.hub import ledger as ledger_mod
from cloud.hub.events import dedup_key, time_ordered_id
from rigs.hubdata import ROOT, press_event


def fill(path, count=5):
    ledger = ledger_mod.Ledger(str(path))
    events = [press_event(i) for i in range(count)]
    ledger.append_batch([(event, dedup_key(event)) for event in events])
    ledger.close()
    return events


def verify(path):
    return ledger_mod.verify(ledger_mod.connect(str(path), readonly=True))


def test_events_are_kept_in_order_once_and_the_chain_verifies(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    events = fill(path)
    ledger = ledger_mod.Ledger(str(path))
    again = press_event(2)
    assert ledger.append_batch([(again, dedup_key(again)), (press_event(9), None)]) == [None, 6]
    rows = ledger_mod.read(ledger.db)
    assert [seq for seq, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert [event["detail"]["press_id"] for _, event in rows[:5]] == [e["detail"]["press_id"] for e in events]
    assert verify(path) == (6, [])
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert ledger.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == ledger_mod.WAL_CHECKPOINT_PAGES


def test_new_event_ids_are_time_ordered_uuids_and_a_ledger_with_older_random_ids_still_verifies(tmp_path):
    """Version 7 ids (cloud/hub/events.py) make the unique index on the id grow at its end."""
    ms = 1_000_000
    ids = [time_ordered_id(lambda at=at: at) for at in (1_796_000_000_000 * ms, 1_796_000_000_001 * ms,
                                                         1_796_000_060_000 * ms)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [(uuid.UUID(i).version, uuid.UUID(i).variant) for i in ids] == [(7, uuid.RFC_4122)] * 3
    old = press_event(0) | {"id": str(uuid.uuid4())}  # what hubs wrote before
    new = press_event(1)
    assert uuid.UUID(new["id"]).version == 7
    ledger = ledger_mod.Ledger(str(tmp_path / "ledger.sqlite3"))
    ledger.append_batch([(old, dedup_key(old)), (new, dedup_key(new))])
    ledger.close()
    assert verify(tmp_path / "ledger.sqlite3") == (2, [])


@pytest.mark.parametrize(
    "statement", ["UPDATE events SET body = '{}' WHERE seq = 2", "DELETE FROM events WHERE seq = 2"]
)
def test_the_ledger_refuses_updates_and_deletes(tmp_path, statement):
    path = tmp_path / "ledger.sqlite3"
    fill(path)
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(statement)


def tamper(path, *statements):
    """What someone with the file would do: drop the triggers, then change rows."""
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER events_no_update")
    db.execute("DROP TRIGGER events_no_delete")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def test_an_edited_row_is_caught(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    fill(path)
    tamper(path, "UPDATE events SET body = replace(body, 'cat-feeder', 'intruder') WHERE seq = 3")
    count, problems = verify(path)
    assert count == 5 and problems == ["seq 3: hash does not match its content and predecessor"]


def test_a_deleted_row_is_caught(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    fill(path)
    tamper(path, "DELETE FROM events WHERE seq = 2")
    count, problems = verify(path)
    assert count == 4
    assert problems == [
        "seq 3: expected seq 2 (rows missing)",
        "seq 3: hash does not match its content and predecessor",
    ]


def test_reordered_rows_are_caught(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    fill(path)
    # Swap rows 2 and 4 entirely (hash included): each is valid alone, not in its new place.
    tamper(
        path,
        "UPDATE events SET seq = -2 WHERE seq = 2",
        "UPDATE events SET seq = 2 WHERE seq = 4",
        "UPDATE events SET seq = 4 WHERE seq = -2",
    )
    count, problems = verify(path)
    assert count == 5
    assert problems == [
        "seq 2: hash does not match its content and predecessor",
        "seq 3: hash does not match its content and predecessor",
        "seq 4: hash does not match its content and predecessor",
        "seq 5: hash does not match its content and predecessor",
    ]


def run_verify(data_dir):
    return subprocess.run(
        # --no-broker: the file alone, not the retained checkpoint of a hub running on this machine's 8883
        [sys.executable, "-m", "cloud.hub", "verify", "--data-dir", str(data_dir), "--no-broker"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_verify_command_exit_codes_intact_broken_corrupt(tmp_path):
    fill(tmp_path / "ledger.sqlite3")
    intact = run_verify(tmp_path)
    assert intact.returncode == 0 and "5 events, hash chain intact" in intact.stdout
    tamper(
        tmp_path / "ledger.sqlite3", "DELETE FROM events WHERE seq = 5", "DELETE FROM events WHERE seq = 1"
    )
    broken = run_verify(tmp_path)
    assert broken.returncode == 1 and "hash chain BROKEN" in broken.stdout
    (tmp_path / "ledger.sqlite3").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / ("ledger.sqlite3" + suffix)).unlink(missing_ok=True)
    corrupt = run_verify(tmp_path)
    assert corrupt.returncode == 2 and "not a readable ledger" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr


def test_the_hub_refuses_a_corrupt_ledger_file_with_a_clear_error_and_no_traceback(tmp_path):
    (tmp_path / "ledger.sqlite3").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloud.hub",
            "run",
            "--broker-port",
            "1",
            "--data-dir",
            str(tmp_path),
            "--pki",
            str(tmp_path / "pki"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "not a readable ledger" in run.stderr and "move it aside" in run.stderr
    assert "Traceback" not in run.stderr
    assert (tmp_path / "ledger.sqlite3").read_bytes()[:16] == b"SQLite format 3\x00"  # left as it was


@pytest.mark.parametrize("command", [["verify"], ["status"], ["hydrate", "--out", "OUT"]])
def test_a_folder_no_hub_ran_on_is_one_line_saying_run_the_hub(tmp_path, capsys, command):
    """`python -m cloud.hub verify` (status, hydrate) before the first `make hub`, or on a mistyped
    --data-dir: not "a corrupt ledger, move it aside" nor a traceback, and no projection file left."""
    from cloud.hub.__main__ import main

    out = tmp_path / "at-7am.sqlite3"
    argv = [str(out) if word == "OUT" else word for word in command]
    assert main([*argv, "--data-dir", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == (
        "%s: no ledger at %s: run the hub (make hub), or name the folder of the hub you run "
        "(--data-dir DIR)\n" % (command[0], tmp_path / "none" / "ledger.sqlite3"))
    assert not out.exists()
