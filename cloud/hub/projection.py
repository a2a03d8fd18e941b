"""The history projection on the hub: a SQLite file with the same rows the DynamoDB table holds on
AWS, written by cloud/handlers/projector.py (the store interface it documents).

Written by one thread (the `history` rule's); the projection is rebuilt from the ledger at will, so it
runs with synchronous=NORMAL. `batch=True` (a rebuild: one writer, a fresh file) keeps rows in memory
and writes them all at `commit()` or `close()`."""

import json
import sqlite3

from cloud.handlers.projector import StoreConflict
from cloud.hub import ledger

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY, version INTEGER NOT NULL, requested_at REAL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_requested_at ON items (requested_at);
"""


class SqliteStore:
    def __init__(self, path, batch=False):
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        ledger.checkpoint_rarely(self.db)
        self.db.executescript(SCHEMA)
        self.pending = {} if batch else None  # key -> (doc, version, requested_at)
        # A rebuild into an empty file: a key not pending is not in the file either.
        self.empty = batch and self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0

    def get(self, key):
        if self.pending is not None and key in self.pending:
            doc, version, _ = self.pending[key]
            return doc, version
        if self.empty:
            return None, 0
        row = self.db.execute("SELECT doc, version FROM items WHERE key = ?", (key,)).fetchone()
        return (json.loads(row[0]), row[1]) if row else (None, 0)

    def put(self, key, doc, version, requested_at=None):
        if self.pending is not None:
            self.pending[key] = (doc, version + 1, requested_at)
            return
        text = json.dumps(doc, sort_keys=True)
        if version == 0:
            written = self.db.execute(
                "INSERT OR IGNORE INTO items (key, version, requested_at, doc) VALUES (?, 1, ?, ?)",
                (key, requested_at, text),
            ).rowcount
        else:
            written = self.db.execute(
                "UPDATE items SET version = version + 1, requested_at = ?, doc = ?"
                " WHERE key = ? AND version = ?",
                (requested_at, text, key, version),
            ).rowcount
        if not written:
            raise StoreConflict(key)

    def rows(self):
        for key, doc in self.db.execute("SELECT key, doc FROM items ORDER BY key"):
            yield key, json.loads(doc)

    def commit(self):
        if self.pending:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany(
                    "INSERT OR REPLACE INTO items (key, version, requested_at, doc) VALUES (?, ?, ?, ?)",
                    (
                        (key, version, requested_at, json.dumps(doc, sort_keys=True))
                        for key, (doc, version, requested_at) in self.pending.items()
                    ),
                )
            self.pending.clear()

    def close(self):
        self.commit()
        self.db.close()
