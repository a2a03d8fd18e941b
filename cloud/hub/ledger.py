"""The hub's ledger: an append-only SQLite file, the local counterpart of the EventBridge archive.

- WAL journal, `synchronous=FULL`: a commit returns only once its events are on disk, so an event is
  durable before a producer is acknowledged and before any rule's target sees it. Appends are grouped
  (one transaction per batch) so many events share one fsync.
- Triggers refuse UPDATE and DELETE on `events`: the table only grows.
- Hash chain: each row stores sha256(previous hash | seq | event id | recorded_at | body). `verify`
  recomputes it, so an edited, deleted or reordered row is reported even when someone dropped the
  triggers or edited the file by hand.
- Duplicates: an event carries a dedup key (the press id, or thing + result seq, ...); a second
  event with the same key is not appended, so a producer's redelivery (QoS 1, a hub restart before
  its PUBACK) is in the ledger exactly once.
- Beside the chain, in the same file: per-rule delivery cursors, the dead-letter table, the local
  queue targets, replays run and inputs that were not events (`rejected`). These are bookkeeping, not history.
- `rejected` is bounded, since whoever holds a publishing certificate can fill it: a row keeps the
  payload's first REJECTED_PREFIX bytes, its length and its SHA-256 (topic and reason cut too), and the
  table keeps the newest REJECTED_ROWS rows (at most about 34 MB); older ones are dropped first and
  counted (`rejected_dropped`).
"""

import hashlib
import json
import os
import sqlite3
import time

GENESIS = "0" * 64
SCHEMA = """
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
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL,
    at REAL NOT NULL, length INTEGER, sha256 TEXT
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Ledgers written before `rejected` was bounded lack these columns (their rows keep NULL there).
REJECTED_ADDED_COLUMNS = (("length", "INTEGER"), ("sha256", "TEXT"))
REJECTED_PREFIX = 256
REJECTED_TOPIC = 256
REJECTED_REASON = 512
REJECTED_ROWS = 10000


def _add_rejected_columns(db):
    present = {row[1] for row in db.execute("PRAGMA table_info(rejected)")}
    for name, kind in REJECTED_ADDED_COLUMNS:
        if name not in present:
            db.execute("ALTER TABLE rejected ADD COLUMN %s %s" % (name, kind))


class CorruptLedger(RuntimeError):
    """The ledger file cannot be opened as a ledger (not SQLite, damaged, or a foreign schema)."""


def row_hash(previous, seq, event_id, recorded_at, body):
    text = "|".join((previous, str(seq), event_id, repr(recorded_at), body))
    return hashlib.sha256(text.encode()).hexdigest()


def canonical(event):
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


def connect(path, synchronous="FULL", readonly=False):
    """A connection to the ledger at path; the schema is created on first use (not when readonly)."""
    try:
        if readonly:
            db = sqlite3.connect(
                "file:%s?mode=ro" % os.path.abspath(path), uri=True, timeout=30, check_same_thread=False
            )
        else:
            db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=%s" % synchronous)
            db.executescript(SCHEMA)
            _add_rejected_columns(db)
        db.execute(
            "SELECT seq, id, dedup_key, time, source, detail_type, recorded_at, body, hash"
            " FROM events LIMIT 0"
        )
    except sqlite3.DatabaseError as error:
        raise CorruptLedger("%s: not a readable ledger (%s)" % (path, error)) from error
    return db


class Ledger:
    """Appends events (group commit), reads them in order, verifies the chain.

    One Ledger per thread that writes; readers may share. `clock` gives recorded_at (tests replace it)."""

    rejected_rows = REJECTED_ROWS  # the cap on `rejected` (a test lowers it on its instance)

    def __init__(self, path, clock=time.time, synchronous="FULL"):
        self.path = path
        self.clock = clock
        self.db = connect(path, synchronous)
        self._tail = None

    def close(self):
        self.db.close()

    def _last(self):
        row = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return row if row else (0, GENESIS)

    def append_batch(self, events_with_keys):
        """Append [(event, dedup_key)] in one transaction; returns the seqs written (None for a duplicate)."""
        written = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            seq, previous = self._last()
            for event, key in events_with_keys:
                if (
                    key is not None
                    and self.db.execute("SELECT 1 FROM events WHERE dedup_key = ?", (key,)).fetchone()
                ):
                    written.append(None)
                    continue
                seq += 1
                body = canonical(event)
                recorded_at = self.clock()
                digest = row_hash(previous, seq, event["id"], recorded_at, body)
                self.db.execute(
                    "INSERT INTO events (seq, id, dedup_key, time, source, detail_type, recorded_at, body,"
                    " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        event["id"],
                        key,
                        event["time"],
                        event["source"],
                        event["detail-type"],
                        recorded_at,
                        body,
                        digest,
                    ),
                )
                previous = digest
                written.append(seq)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return written

    def record_rejected(self, topic, payload, reason):
        """Keep a bounded trace of bad input (see the module's docstring); drop and count the oldest rows."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute(
                "INSERT INTO rejected (topic, payload, reason, at, length, sha256) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    topic[:REJECTED_TOPIC],
                    payload[:REJECTED_PREFIX],
                    reason[:REJECTED_REASON],
                    self.clock(),
                    len(payload),
                    hashlib.sha256(payload).hexdigest(),
                ),
            ).lastrowid
            # Row ids only grow (the oldest are the ones deleted), so the newest rows are the last ids.
            dropped = self.db.execute(
                "DELETE FROM rejected WHERE id <= ?", (row - self.rejected_rows,)
            ).rowcount
            if dropped:
                self.db.execute(
                    "INSERT INTO counters (name, value) VALUES ('rejected_dropped', ?)"
                    " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                    (dropped,),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def rejected_dropped(self):
        """How many rejected rows were dropped to keep the table bounded."""
        row = self.db.execute("SELECT value FROM counters WHERE name = 'rejected_dropped'").fetchone()
        return row[0] if row else 0


def read(db, after=0, limit=None, recorded_until=None, recorded_from=None):
    """(seq, event) in ledger order, seq > after, optionally within a recorded_at window."""
    sql = "SELECT seq, body FROM events WHERE seq > ?"
    args = [after]
    if recorded_from is not None:
        sql += " AND recorded_at >= ?"
        args.append(recorded_from)
    if recorded_until is not None:
        sql += " AND recorded_at <= ?"
        args.append(recorded_until)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT %d" % limit
    return [(seq, json.loads(body)) for seq, body in db.execute(sql, args)]


def verify(db):
    """Recompute the hash chain; returns (events checked, problems) where problems name the first bad rows."""
    problems = []
    previous, expected_seq, count = GENESIS, 1, 0
    for seq, event_id, recorded_at, body, stored in db.execute(
        "SELECT seq, id, recorded_at, body, hash FROM events ORDER BY seq"
    ):
        count += 1
        if seq != expected_seq:
            problems.append("seq %d: expected seq %d (rows missing)" % (seq, expected_seq))
        if row_hash(previous, seq, event_id, recorded_at, body) != stored:
            problems.append("seq %d: hash does not match its content and predecessor" % seq)
        else:
            try:
                if json.loads(body)["id"] != event_id:
                    problems.append("seq %d: body id differs from the row id" % seq)
            except (ValueError, KeyError, TypeError):
                problems.append("seq %d: body is not an event" % seq)
        previous, expected_seq = stored, seq + 1
        if len(problems) >= 10:
            break
    return count, problems
