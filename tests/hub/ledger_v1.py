"""A ledger of schema 1, as the hub wrote it before it recorded a schema version (up to commit
8bebdc0): the upgrade tests' fixture, generated rather than kept as a binary file.

    python -m tests.hub.ledger_v1 OUT.sqlite3 [--presses 12]

The DDL and the row hash below are frozen copies of that release on purpose: the fixture must stay
what an old hub wrote when cloud/hub/ledger.py changes.
"""

import argparse
import hashlib
import json
import sqlite3

SCHEMA_1 = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    dedup_key TEXT UNIQUE,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    body TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_recorded_at ON events (recorded_at);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'ledger is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'ledger is append-only: DELETE refused'); END;
CREATE TABLE IF NOT EXISTS cursors (rule TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, rule TEXT NOT NULL, target TEXT NOT NULL, event_seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL, error TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_messages (
    id INTEGER PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS replays (
    name TEXT PRIMARY KEY, start REAL, end REAL, rules TEXT, state TEXT, events INTEGER, at REAL
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
"""
T0 = 1_795_000_000


def row_hash_1(previous, seq, event_id, recorded_at, body):
    text = "|".join((previous, str(seq), event_id, repr(recorded_at), body))
    return hashlib.sha256(text.encode()).hexdigest()


def press(seq):
    click = ("SINGLE", "DOUBLE", "LONG")[seq % 3]
    return {
        "version": "0",
        "id": "00000000-0000-4000-8000-%012d" % seq,
        "detail-type": "FeedRequested",
        "source": "com.feedmyfurbabies",
        "account": "000000000000",
        "time": "2026-11-18T%02d:%02d:%02dZ" % (seq // 3600 % 24, seq // 60 % 60, seq % 60),
        "region": "local",
        "resources": [],
        "detail": {
            "v": 1,
            "button": "cat-feeder",
            "event": click,
            "at": T0 + seq,
            "seq": seq,
            "press_id": "press-cat-feeder-%d" % seq,
        },
    }


def write(path, presses=12):
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(SCHEMA_1)
    previous = "0" * 64
    db.execute("BEGIN")
    for seq in range(1, presses + 1):
        event = press(seq)
        body = json.dumps(event, sort_keys=True, separators=(",", ":"))
        recorded_at = T0 + seq + 0.25
        previous = row_hash_1(previous, seq, event["id"], recorded_at, body)
        db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                event["id"],
                "key-%d" % seq,
                event["time"],
                event["source"],
                event["detail-type"],
                recorded_at,
                body,
                previous,
            ),
        )
    db.executemany("INSERT INTO cursors VALUES (?, ?)", [("feeds", presses), ("history", presses - 2)])
    db.execute("INSERT INTO dead_letters VALUES (1, 'feeds', 'feeder', 3, 5, 'broker down', ?)", (T0,))
    db.execute("INSERT INTO rejected VALUES (1, 'cat-feeder/cat-feeder/button', x'7b', 'not JSON', ?)", (T0,))
    db.execute("COMMIT")
    db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--presses", type=int, default=12)
    args = parser.parse_args()
    write(args.out, args.presses)
