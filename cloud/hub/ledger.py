"""The hub's ledger: an append-only SQLite file, the local counterpart of the EventBridge archive.

- WAL journal, `synchronous=FULL`: a commit returns only once its events are on disk, so an event is
  durable before a producer is acknowledged and before any rule's target sees it. Appends are grouped
  (one transaction per batch) so many events share one fsync.
- Triggers refuse UPDATE and DELETE on `events`: the table only grows.
- Hash chain: each row stores sha256(previous hash | seq | event id | recorded_at | body). `verify`
  recomputes it, so an edited or reordered row, or a row deleted before the newest one, is reported
  even when someone dropped the triggers or edited the file by hand. The chain alone cannot see the
  newest rows deleted (what remains still chains): the signed checkpoints of checkpoint.py anchor
  the ledger's length and head outside this file.
- Duplicates: an event carries a dedup key (the press id, or thing + result seq, ...); a second
  event with the same key is not appended, so a producer's redelivery (QoS 1, a hub restart before
  its PUBACK) is in the ledger exactly once.
- Beside the chain, in the same file: per-rule delivery cursors, the dead-letter table, the local
  queue targets, replays run, inputs that were not events (`rejected`) and backups taken. These are
  bookkeeping, not history.
- Schema version: `PRAGMA user_version` (the first ledgers, schema 1, left it 0). A newer hub
  migrates the bookkeeping tables in one transaction (MIGRATIONS; never the events); a hub older
  than the ledger refuses it (NewerLedger) and leaves it unchanged.
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
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
"""
# Schema N+1 from N: bookkeeping tables only; the events table and its rows are never rewritten.
MIGRATIONS = {
    2: """
CREATE TABLE backups (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, length INTEGER NOT NULL, head TEXT NOT NULL, at REAL NOT NULL
);
""",
    # `rejected` bounded: a row keeps a prefix with the whole payload's length and hash (older rows: NULL).
    3: """
ALTER TABLE rejected ADD COLUMN length INTEGER;
ALTER TABLE rejected ADD COLUMN sha256 TEXT;
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
""",
}
SCHEMA_VERSION = max(MIGRATIONS)
REJECTED_PREFIX = 256
REJECTED_TOPIC = 256
REJECTED_REASON = 512
REJECTED_ROWS = 10000
# Pages in the WAL before a checkpoint (40 MB at 4 KB pages): see checkpoint_rarely.
WAL_CHECKPOINT_PAGES = 10000


class CorruptLedger(RuntimeError):
    """The ledger file cannot be opened as a ledger (not SQLite, damaged, or a foreign schema)."""

    advice = "move it aside (keep it: it is the history) and start again"


class NewerLedger(CorruptLedger):
    """The ledger was written by a newer hub: this one does not know its bookkeeping tables."""

    advice = "run the hub release that wrote it (this one left the file unchanged)"


class UnreadableFile(CorruptLedger):
    """Another file of the data folder cannot be read (cloud/hub/README.md, "The data directory")."""

    def __init__(self, message, advice="move it aside (keep it) and start again"):
        super().__init__(message)
        self.advice = advice


def schema_version(db):
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
        return 1  # schema 1 did not record its version
    return version


def _refuse_newer(db, path):
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise NewerLedger(
            "%s: ledger schema %d is newer than this hub's %d" % (path, version, SCHEMA_VERSION)
        )
    return version


def _statements(script):
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""


def _create_or_migrate(db, path):
    """A new file gets the whole schema, an older one its missing migrations: one transaction either way."""
    db.execute("BEGIN IMMEDIATE")  # two connections opening the file at once migrate it once
    try:
        version = _refuse_newer(db, path)
        if version < SCHEMA_VERSION:
            steps = [SCHEMA] if version == 0 else []
            steps += [MIGRATIONS[step] for step in range(max(version, 1) + 1, SCHEMA_VERSION + 1)]
            for statement in _statements("".join(steps)):
                db.execute(statement)
            db.execute("PRAGMA user_version = %d" % SCHEMA_VERSION)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def checkpoint_rarely(db):
    """A WAL checkpoint copies every page the WAL holds into the main file once, however often the
    page was written since the last one: with random keys in the indexes, most commits rewrite the
    same pages, so one checkpoint per WAL_CHECKPOINT_PAGES (instead of SQLite's 1,000) copies far
    fewer of them. Durability is the commit's fsync of the WAL, unchanged; the WAL file is cut back
    to at most that size after a checkpoint (journal_size_limit)."""
    db.execute("PRAGMA wal_autocheckpoint=%d" % WAL_CHECKPOINT_PAGES)
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.execute("PRAGMA journal_size_limit=%d" % (WAL_CHECKPOINT_PAGES * page_size))


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
        try:
            _refuse_newer(db, path)  # before WAL mode or a migration touch the file
        except NewerLedger:
            db.close()
            raise
        if not readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=%s" % synchronous)
            checkpoint_rarely(db)
            _create_or_migrate(db, path)
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

    def append_batch(self, events_with_keys, rejected=()):
        """Append [(event, dedup_key)] and the rejected inputs [(topic, payload, reason)] in one
        transaction; returns the seqs written (None for a duplicate)."""
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
            for topic, payload, reason in rejected:
                self._insert_rejected(topic, payload, reason)
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLITE_FULL has rolled it back already
                self.db.execute("ROLLBACK")
            raise
        return written

    def _insert_rejected(self, topic, payload, reason):
        """A bounded trace of bad input (see the module's docstring): the oldest rows beyond the cap are
        dropped and counted."""
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


def rejected_counts(db):
    """(rows kept in `rejected`, rows dropped to keep it bounded); (0, 0) before schema 3 counted them."""
    if schema_version(db) < 3:
        return 0, 0
    (kept,) = db.execute("SELECT COUNT(*) FROM rejected").fetchone()
    row = db.execute("SELECT value FROM counters WHERE name = 'rejected_dropped'").fetchone()
    return kept, row[0] if row else 0


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
