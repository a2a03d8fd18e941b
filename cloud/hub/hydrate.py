"""Hydrate a brand-new history projection from the hub's ledger, in full or up to a time T.

    python -m cloud.hub hydrate --out history-T.sqlite3 [--to T] [--data-dir .hub]

A fresh SQLite projection is filled by a replay of the ledger (recorded up to T) to the `history` rule
only, so the projector sees exactly the events the live one had seen at T (their order does not matter,
see cloud/handlers/projector.py): the result equals the live history as it stood at T. Nothing else is
reached; the feeder never is.
Progress is printed as counts; Ctrl-C stops the replay (recorded CANCELLED) and keeps what was written.
"""

import os
import time
import uuid

from cloud.handlers import projector
from cloud.hub.projection import SqliteStore
from cloud.hub.replay import ReplayRefused, replay

HISTORY_RULE = "history"


class NewProjection:
    """The `history` rule's target for this replay: the projector's code, writing the new table."""

    name = "projector (new projection)"

    def __init__(self, store):
        self.store = store

    def __call__(self, event, db):
        return projector.project(self.store, event)


def hydrate(ledger_path, out_path, until=None, progress=None, stop=None):
    """Returns (events read, events projected)."""
    if os.path.exists(out_path):
        raise ReplayRefused("%s exists: hydrate writes a brand-new projection" % out_path)
    store = SqliteStore(out_path, batch=True)
    name = "hydrate-%s-%s" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), uuid.uuid4().hex[:8])
    until = until if until is not None else time.time()
    try:
        return replay(
            ledger_path,
            name,
            0,
            until,
            [HISTORY_RULE],
            progress=progress,
            stop=stop,
            retarget={HISTORY_RULE: NewProjection(store)},
        )
    finally:
        store.close()
