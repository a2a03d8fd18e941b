"""The hub's `rejected` table (cloud/hub/ledger.py) is bounded: whoever holds a publishing certificate cannot
fill the hub's disk through it (issue 25)."""

import hashlib
import os
import sqlite3

from cloud.hub import ledger as ledger_mod

BUTTON = "cat-feeder/cat-feeder/button"


def rows(ledger):
    return ledger.db.execute(
        "SELECT topic, payload, reason, length, sha256 FROM rejected ORDER BY id"
    ).fetchall()


def test_a_1_mb_payload_is_kept_as_its_prefix_its_length_and_its_hash(tmp_path):
    path = str(tmp_path / "ledger.sqlite3")
    ledger = ledger_mod.Ledger(path)
    payload = b'{"v": 1, "event": "SINGLE", "pad": "' + b"x" * 1_000_000 + b'"}'
    ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = os.path.getsize(path)
    reason = "ValueError: payload of %d bytes is over 4096" % len(payload)
    ledger.append_batch([], [(BUTTON, payload, reason)])
    ((topic, prefix, _, length, digest),) = rows(ledger)
    assert (topic, bytes(prefix)) == (BUTTON, payload[: ledger_mod.REJECTED_PREFIX])
    assert (length, digest) == (len(payload), hashlib.sha256(payload).hexdigest())
    ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert os.path.getsize(path) - before < 16 * 1024


def test_topic_and_reason_are_cut_too(tmp_path):
    ledger = ledger_mod.Ledger(str(tmp_path / "ledger.sqlite3"))
    topic = "cat-feeder/" + "t" * 60_000 + "/button"
    ledger.append_batch([], [(topic, b"{", "r" * 100_000)])
    ((kept_topic, _, reason, length, _),) = rows(ledger)
    assert kept_topic == topic[: ledger_mod.REJECTED_TOPIC] and reason == "r" * ledger_mod.REJECTED_REASON
    assert length == 1


def test_the_table_keeps_the_newest_rows_and_counts_the_dropped(tmp_path):
    path = str(tmp_path / "ledger.sqlite3")
    ledger = ledger_mod.Ledger(path)
    ledger.rejected_rows = 3
    for number in range(7):
        ledger.append_batch([], [(BUTTON, b"bad %d" % number, "reason %d" % number)])
    assert [bytes(row[1]) for row in rows(ledger)] == [b"bad 4", b"bad 5", b"bad 6"]
    assert ledger_mod.rejected_counts(ledger.db) == (3, 4)
    ledger.close()
    # The count is in the file: a restarted hub goes on from it.
    again = ledger_mod.Ledger(path)
    again.rejected_rows = 3
    again.append_batch([], [(BUTTON, b"bad 7", "reason 7")])
    assert ledger_mod.rejected_counts(again.db) == (3, 5)


def test_a_ledger_from_before_the_bound_gets_the_new_columns_and_keeps_its_rows(tmp_path):
    path = str(tmp_path / "ledger.sqlite3")
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE rejected (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,"
        " reason TEXT NOT NULL, at REAL NOT NULL)"
    )
    old.execute(
        "INSERT INTO rejected (topic, payload, reason, at) VALUES (?, ?, ?, ?)", (BUTTON, b"old", "r", 1.0)
    )
    old.commit()
    old.close()
    ledger = ledger_mod.Ledger(path)
    ledger.append_batch([], [(BUTTON, b"new", "r")])
    assert [(bytes(row[1]), row[3]) for row in rows(ledger)] == [(b"old", None), (b"new", 3)]
