"""The history projection on the hub: a SQLite file with the same rows the DynamoDB table holds on
AWS, written by cloud/handlers/projector.py (the store interface it documents).

Written by one thread (the `history` rule's); the projection is rebuilt from the ledger at will, so it
runs with synchronous=NORMAL. `autocommit=False` groups a rebuild's writes (call `commit()`)."""

import json
import sqlite3

from cloud.handlers.projector import StoreConflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY, version INTEGER NOT NULL, requested_at REAL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_requested_at ON items (requested_at);
"""


class SqliteStore:
    def __init__(self, path, autocommit=True):
        self.db = sqlite3.connect(
            path, timeout=30, check_same_thread=False, isolation_level=None if autocommit else "DEFERRED"
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def get(self, key):
        row = self.db.execute("SELECT doc, version FROM items WHERE key = ?", (key,)).fetchone()
        return (json.loads(row[0]), row[1]) if row else (None, 0)

    def put(self, key, doc, version, requested_at=None):
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
        self.db.commit()

    def close(self):
        self.db.commit()
        self.db.close()
