"""Alerts on the hub: the incidents file, its outbox, the sender (Apprise), the clock and the hub's health.

    incidents.sqlite3   items                      the incidents projection (cloud/handlers/alerts.py),
                                                   rows as the history's (cloud/hub/projection.py)
                        notifications              the outbox: one row per (transition, destination)
                        notification_dead_letters  what could not be delivered within GIVE_UP_AFTER_S

- The `alerts` rule's delivery batch and every clock tick run under one lock, in one transaction of
  this file: a transition and its outbox rows commit together, so a hub killed in between redelivers
  the batch and the handler, finding the row already changed, adds nothing (one notification).
- The sender is a thread of its own with its own connection: Apprise's network calls never hold the
  lock, the ledger or any rule. A failed delivery is retried with exponential backoff (BACKOFF_S doubling
  to BACKOFF_CAP_S) until GIVE_UP_AFTER_S, then moved to the dead-letter table (shown by `python -m
  cloud.hub incidents`, `status` and the page). Each destination has its own rows: one failing service
  does not resend to the others.
- The clock ticks every CHECK_INTERVAL_S: the handler's `{"check": true}` (offline for N minutes, back
  online, quiet), and the hub's own health, which is not in the ledger: ingest stalled (a full disk),
  its writer gone, or the broker unreachable for INGEST_GRACE_S; `verify` of the ledger, on its own
  thread VERIFY_FIRST_S after the start and every VERIFY_INTERVAL_S. Offline is thus seen at most
  CHECK_INTERVAL_S after its threshold.
- Destinations are Apprise URLs from the household file (`alerts.notify`); they hold tokens, so every
  line the hub prints names one by `redact(url)` (Apprise's privacy form), never as written.
"""

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
import urllib.parse

from cloud.handlers import alerts
from cloud.hub import delivery, ledger, projection
from cloud.topology import local_environment

log = logging.getLogger("hub")
INCIDENTS_FILE = "incidents.sqlite3"
RULE = "alerts"
CHECK_INTERVAL_S = 10.0
# The `alerts` rule reads the ledger at most this often (cloud/hub/delivery.py's linger_s): an alert may
# wait that long, a press's command never waits for it.
LINGER_S = 0.2
VERIFY_FIRST_S = 60.0
VERIFY_INTERVAL_S = 3600.0
INGEST_GRACE_S = 60.0
BACKOFF_S = 1.0
BACKOFF_CAP_S = 300.0
GIVE_UP_AFTER_S = 24 * 3600.0
# The sender writes the incidents file too: a batch takes its write lock at its start (delivery.transaction).
IMMEDIATE = "BEGIN IMMEDIATE"
OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY, incident TEXT NOT NULL, transition TEXT NOT NULL, destination INTEGER NOT NULL,
    note TEXT NOT NULL, created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, sent_at REAL, error TEXT,
    UNIQUE (incident, transition, destination)
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (sent_at, next_at);
CREATE TABLE IF NOT EXISTS notification_dead_letters (
    id INTEGER PRIMARY KEY, incident TEXT NOT NULL, transition TEXT NOT NULL, destination TEXT NOT NULL,
    note TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT NOT NULL, created_at REAL NOT NULL,
    at REAL NOT NULL
);
"""


def redact(url):
    """A destination as the hub prints it: the scheme and the host as Apprise's privacy form gives them
    (a password or a bot token masked), without path or query, where a topic or chat id may be the
    secret (an ntfy topic is)."""
    import apprise

    scheme = url.split("://", 1)[0][:16]
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not plugin:
        return "%s://(not an Apprise URL)" % scheme
    host = urllib.parse.urlsplit(plugin.url(privacy=True)).netloc.rpartition("@")[2]
    return "%s://%s/..." % (scheme, host)


def open_store(path):
    """The incidents store with its outbox tables."""
    store = projection.SqliteStore(path)
    store.db.executescript(OUTBOX_SCHEMA)
    return store


class Outbox:
    """The handler's notifier on the hub: one outbox row per destination, on the store's connection (so
    inside the batch's transaction)."""

    def __init__(self, db, destinations):
        self.db, self.destinations = db, destinations

    def send(self, note):
        now = time.time()
        self.db.executemany(
            "INSERT OR IGNORE INTO notifications"
            " (incident, transition, destination, note, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (note["incident"], note["transition"], index, json.dumps(note), now, now)
                for index in range(len(self.destinations))
            ],
        )
        log.warning("alert: %s: %s", note["title"], note["body"])


class Alerting:
    """The incidents store, the outbox, the sender and the clock of one hub."""

    def __init__(
        self,
        data_dir,
        topology,
        destinations,
        stopping,
        check_interval_s=CHECK_INTERVAL_S,
        verify_first_s=VERIFY_FIRST_S,
    ):
        self.path = os.path.join(data_dir, INCIDENTS_FILE)
        self.store = open_store(self.path)
        self.settings = alerts.settings(local_environment("alerts", topology).get("ALERTS"))
        self.outbox = Outbox(self.store.db, list(destinations))
        self.client = alerts.Alerting(self.store, self.outbox)
        self.lock = threading.Lock()
        self.stopping = stopping
        self.check_interval_s, self.verify_first_s = check_interval_s, verify_first_s
        self.sender = Sender(self.path, list(destinations), stopping)
        self.threads = []

    @contextlib.contextmanager
    def batch(self):
        """A delivery batch of the `alerts` rule, or a clock tick: one transaction, then the sender wakes."""
        with self.lock, delivery.transaction(self.store.db, IMMEDIATE):
            yield
        self.sender.wake.set()

    def start(self, check, ingest, ledger_path):
        """check: the alerts function's `{"check": true}` call (the hub's runtime)."""
        self.threads = [
            threading.Thread(target=self._clock, args=(check, ingest), name="alerts-clock", daemon=True),
            threading.Thread(target=self._verify, args=(ledger_path,), name="alerts-verify", daemon=True),
            self.sender,
        ]
        for thread in self.threads:
            thread.start()

    def observe_hub(self, kind, failing, reason):
        with self.batch():
            alerts.observe_hub(
                self.store, self.settings, kind, failing, reason, time.time(), self.outbox.send
            )

    def _clock(self, check, ingest):
        unreachable_since = None
        while not self.stopping.wait(self.check_interval_s):
            try:
                unreachable_since = self._tick(check, ingest, unreachable_since)
            except Exception:  # a tick that failed (the disk, a locked file) is tried again at the next
                log.exception(
                    "alerts: the clock's check failed; trying again in %.0f s", self.check_interval_s
                )

    def _tick(self, check, ingest, unreachable_since):
        with self.batch():
            check({"check": True})
        connected = ingest.client.is_connected()
        unreachable_since = None if connected else unreachable_since or time.monotonic()
        reasons = [
            "the ledger refuses writes: %s" % ingest.stalled if ingest.stalled else "",
            "" if ingest.writer.is_alive() or ingest.stopping else "its writer thread ended",
            "the broker unreachable for %.0f s" % (time.monotonic() - unreachable_since)
            if unreachable_since and time.monotonic() - unreachable_since >= INGEST_GRACE_S
            else "",
        ]
        reason = "; ".join(filter(None, reasons))
        self.observe_hub("ingest", bool(reason), reason)
        return unreachable_since

    def _verify(self, ledger_path):
        # Not at once: a start (and a test's short-lived hub) is not slowed by reading the whole ledger.
        if self.stopping.wait(self.verify_first_s):
            return
        while True:
            try:
                db = ledger.connect(ledger_path, readonly=True)
                try:
                    count, problems = ledger.verify(db)
                finally:
                    db.close()
                reason = "%s (%d events checked)" % ("; ".join(problems), count) if problems else ""
            except ledger.CorruptLedger as error:
                reason = str(error)
            self.observe_hub("verify", bool(reason), reason)
            if self.stopping.wait(VERIFY_INTERVAL_S):
                return

    def join(self, timeout):
        self.sender.wake.set()
        for thread in self.threads:
            thread.join(timeout)
        self.store.close()


class Sender(threading.Thread):
    """Delivers the outbox with Apprise, oldest first; retries with backoff, dead-letters after a day."""

    def __init__(
        self,
        path,
        destinations,
        stopping,
        backoff_s=BACKOFF_S,
        backoff_cap_s=BACKOFF_CAP_S,
        give_up_after_s=GIVE_UP_AFTER_S,
    ):
        super().__init__(name="alerts-sender", daemon=True)
        self.path, self.destinations, self.stopping = path, destinations, stopping
        self.backoff_s, self.backoff_cap_s, self.give_up_after_s = backoff_s, backoff_cap_s, give_up_after_s
        self.wake = threading.Event()
        self.names = [redact(url) for url in destinations]
        # Apprise's own lines may name a destination as written: only errors pass, and ours redact.
        logging.getLogger("apprise").setLevel(logging.ERROR)

    def run(self):
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            while not self.stopping.is_set():
                due = db.execute(
                    "SELECT id, destination, note, attempts, created_at, next_at FROM notifications"
                    " WHERE sent_at IS NULL ORDER BY next_at, id LIMIT 64"
                ).fetchall()
                now = time.time()
                ready = [row for row in due if row[5] <= now]
                for row in ready:
                    if self.stopping.is_set():
                        break
                    self._deliver(db, *row[:5])
                if not ready:
                    wait = min((row[5] for row in due), default=now + 1.0) - now
                    self.wake.wait(max(0.01, min(wait, 1.0)))
                    self.wake.clear()
        finally:
            db.close()

    def _deliver(self, db, row_id, destination, text, attempts, created_at):
        note = json.loads(text)
        attempts += 1
        error = self._send(destination, note)
        now = time.time()
        if error is None:
            db.execute(
                "UPDATE notifications SET sent_at = ?, attempts = ? WHERE id = ?", (now, attempts, row_id)
            )
            log.info(
                "alert: %s %s sent to %s",
                note["incident"],
                note["transition"],
                self.destination_name(destination),
            )
            return
        if now - created_at >= self.give_up_after_s or destination >= len(self.destinations):
            with delivery.transaction(db, IMMEDIATE):
                db.execute(
                    "INSERT INTO notification_dead_letters (incident, transition, destination, note,"
                    " attempts, error, created_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        note["incident"],
                        note["transition"],
                        self.destination_name(destination),
                        text,
                        attempts,
                        error,
                        created_at,
                        now,
                    ),
                )
                db.execute("DELETE FROM notifications WHERE id = ?", (row_id,))
            log.error(
                "alert: %s %s to %s dead-lettered after %d attempts: %s",
                note["incident"],
                note["transition"],
                self.destination_name(destination),
                attempts,
                error,
            )
            return
        delay = min(self.backoff_cap_s, self.backoff_s * 2 ** (attempts - 1))
        db.execute(
            "UPDATE notifications SET attempts = ?, next_at = ?, error = ? WHERE id = ?",
            (attempts, now + delay, error, row_id),
        )
        log.warning(
            "alert: %s %s to %s failed (attempt %d: %s), retrying in %.0f s",
            note["incident"],
            note["transition"],
            self.destination_name(destination),
            attempts,
            error,
            delay,
        )

    def _send(self, destination, note):
        """None when delivered, else why not."""
        import apprise

        if destination >= len(self.destinations):
            return "destination %d is no longer in the household file" % destination
        notifier = apprise.Apprise()
        if not notifier.add(self.destinations[destination]):
            return "not an Apprise URL"
        try:
            if notifier.notify(title=note["title"], body=note["body"]):
                return None
        except Exception as error:  # a plugin's own failure is one more failed attempt, not the thread's end
            return "%s: %s" % (type(error).__name__, error)
        return "the service did not accept it"

    def destination_name(self, destination):
        return self.names[destination] if destination < len(self.names) else "destination %d" % destination


def listing(path, resolved_kept=20):
    """What `python -m cloud.hub incidents` and the page show: open incidents, the newest resolved ones,
    notifications not delivered yet and the dead letters."""
    if not os.path.exists(path):
        return {"open": [], "resolved": [], "pending": 0, "dead_letters": []}
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    try:
        rows = [(key, json.loads(doc)) for key, doc in db.execute("SELECT key, doc FROM items")]
        opened, resolved = alerts.incidents(rows)
        (pending,) = db.execute("SELECT COUNT(*) FROM notifications WHERE sent_at IS NULL").fetchone()
        dead = [
            {
                "incident": incident,
                "transition": transition,
                "destination": destination,
                "attempts": attempts,
                "error": error,
                "at": at,
            }
            for incident, transition, destination, attempts, error, at in db.execute(
                "SELECT incident, transition, destination, attempts, error, at FROM notification_dead_letters"
                " ORDER BY id DESC LIMIT 50"
            )
        ]
    finally:
        db.close()
    return {"open": opened, "resolved": resolved[:resolved_kept], "pending": pending, "dead_letters": dead}


class Rebuilt:
    """The `alerts` rule's target in a rebuild: the handler's projection into a new store, no notifier."""

    name = "alerts (rebuild)"

    def __init__(self, store, settings):
        self.store, self.settings = store, settings

    def __call__(self, event, db):
        return alerts.apply(self.store, self.settings, event)


def rebuild(ledger_path, topology, until):
    """The incidents as they stood at `until`, from the ledger alone (a replay to the `alerts` rule into
    a store in memory, then the clock advanced to `until`): (open, resolved). Nothing is notified."""
    from cloud.hub.replay import replay

    store = projection.SqliteStore(":memory:")
    settings = alerts.settings(local_environment("alerts", topology).get("ALERTS"))
    name = "incidents-%s-%s" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), os.urandom(4).hex())
    replay(ledger_path, name, 0, until, [RULE], topology, retarget={RULE: Rebuilt(store, settings)})
    alerts.check(store, settings, until)
    return alerts.incidents(store.rows())
