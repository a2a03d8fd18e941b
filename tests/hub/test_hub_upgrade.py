"""Upgrades (cloud/hub/ledger.py): a ledger of the previous schema (tests/hub/ledger_v1.py) opens,
migrates its bookkeeping tables in one transaction without rewriting an event, and verifies; a hub
older than its ledger refuses it in one line and leaves it unchanged."""

import hashlib
import sqlite3
import subprocess
import sys

import pytest

from cloud.hub import ledger as ledger_mod
from rigs.hubdata import ROOT
from tests.hub import ledger_v1


def rows(path, table):
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT * FROM %s ORDER BY 1" % table).fetchall()
    finally:
        db.close()


def user_version(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def hub_command(*args):
    return subprocess.run(
        [sys.executable, "-m", "cloud.hub", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_a_schema_1_ledger_migrates_keeps_every_event_and_verifies(tmp_path):
    path = str(tmp_path / "ledger.sqlite3")
    ledger_v1.write(path, presses=12)
    before = {table: rows(path, table) for table in ("events", "cursors", "dead_letters", "rejected")}
    assert user_version(path) == 0
    ledger = ledger_mod.Ledger(path)
    assert ledger_mod.schema_version(ledger.db) == ledger_mod.SCHEMA_VERSION == 3
    assert ledger.db.execute("SELECT COUNT(*) FROM backups").fetchone() == (0,)
    ledger.append_batch([(ledger_v1.press(13), "key-13")])
    ledger.close()
    assert rows(path, "events")[:12] == before["events"]
    assert {table: rows(path, table) for table in ("cursors", "dead_letters")} == {
        table: before[table] for table in ("cursors", "dead_letters")
    }
    # Schema 3 bounds `rejected`: the rows kept, with no length or hash (NULL) for those written before.
    assert rows(path, "rejected") == [row + (None, None) for row in before["rejected"]]
    verified = hub_command("verify", "--no-broker", "--data-dir", str(tmp_path))
    assert verified.returncode == 0 and "13 events, hash chain intact" in verified.stdout


def test_a_failing_migration_changes_nothing(tmp_path, monkeypatch):
    path = str(tmp_path / "ledger.sqlite3")
    ledger_v1.write(path)
    broken = ledger_mod.MIGRATIONS[2] + "CREATE TABLE cursors (rule TEXT);\n"  # fails after the first step
    monkeypatch.setitem(ledger_mod.MIGRATIONS, 2, broken)
    with pytest.raises(ledger_mod.CorruptLedger):
        ledger_mod.Ledger(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'backups'").fetchall() == []
    assert db.execute("PRAGMA user_version").fetchone() == (0,)


def test_an_older_hub_refuses_a_newer_ledger_in_one_line_and_leaves_it_unchanged(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    ledger_mod.Ledger(str(path)).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = %d" % (ledger_mod.SCHEMA_VERSION + 1))
    db.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    run = hub_command(
        "run", "--broker-port", "1", "--data-dir", str(tmp_path), "--pki", str(tmp_path / "pki")
    )
    newer = "ledger schema 4 is newer than this hub's 3; run the hub release that wrote it"
    assert run.returncode == 2 and newer in run.stderr and "Traceback" not in run.stderr
    verified = hub_command("verify", "--no-broker", "--data-dir", str(tmp_path))
    assert verified.returncode == 2 and verified.stderr.count("\n") == 1 and newer in verified.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
