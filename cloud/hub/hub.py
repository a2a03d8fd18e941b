"""The hub: ledger, ingest, rules and their targets in one process (the roles EventBridge, Lambda and
IoT Core's rules play on AWS), next to a mosquitto it does not own.

    hub = Hub(data_dir, pki, broker_host, broker_port).start()   # .stop()

One hub per data_dir: start() takes its lock (cloud/hub/lock.py) before opening the ledger, unless
the caller passes the one it already holds (`lock=`), and stop() releases it.

Files in data_dir: `hub.lock`, `ledger.sqlite3` (events, cursors, dead letters, queues, rejected inputs),
`history.sqlite3` (the projection the `history` rule's projector writes), `shadows.sqlite3` (the
devices' schedule shadows, cloud/hub/shadows.py), `incidents.sqlite3` (the `alerts` rule's incidents and
their notification outbox, cloud/hub/alerting.py), and the signed checkpoints
with their key (`checkpoints.jsonl`, `checkpoint.key`, `checkpoint.pub`; cloud/hub/checkpoint.py).
"""

import contextlib
import logging
import os
import sqlite3
import threading

from cloud.hub import alerting, checkpoint, delivery, health, jobs, projection, shadows
from cloud.hub.events import LedgerEvents
from cloud.hub.hydrate import HISTORY_RULE
from cloud.hub.ingest import Ingest, mqtt_client
from cloud.hub.ledger import Ledger, UnreadableFile
from cloud.hub.lock import DataDirLock
from cloud.hub.runtime import LocalIotData, Runtime
from cloud.topology import TOPOLOGY

log = logging.getLogger("hub")
LEDGER_FILE = "ledger.sqlite3"
HISTORY_FILE = "history.sqlite3"
CONNECT_WAIT_S = 5


def check_databases(data_dir):
    """UnreadableFile for the first database of the data folder that SQLite cannot read (but the ledger:
    Ledger says its own)."""
    for name in sorted(os.listdir(data_dir)):
        if not name.endswith(".sqlite3") or name == LEDGER_FILE:
            continue
        path = os.path.join(data_dir, name)
        db = sqlite3.connect(path)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as error:
            raise UnreadableFile("%s: not a readable database (%s)" % (path, error)) from None
        finally:
            db.close()


class Hub:
    def __init__(
        self,
        data_dir,
        pki,
        broker_host,
        broker_port,
        topology=TOPOLOGY,
        checkpoint_interval_s=checkpoint.INTERVAL_S,
        lock=None,
        notify=(),
        alert_check_s=alerting.CHECK_INTERVAL_S,
        https=None,
    ):
        os.makedirs(data_dir, exist_ok=True)
        self.data_dir = data_dir
        self.lock = lock
        self.ledger_path = os.path.join(data_dir, LEDGER_FILE)
        self.history_path = os.path.join(data_dir, HISTORY_FILE)
        self.topology = topology
        self.pki = pki
        self.host, self.port = broker_host, broker_port
        self.commits = delivery.Commits()
        self.stopping = threading.Event()
        self.runtime = None
        self.checkpoint_interval_s = checkpoint_interval_s
        self.notify_urls = list(notify)  # the household's Apprise URLs (cloud/hub/alerting.py)
        self.alert_check_s = alert_check_s
        self.https = https  # (bind, port) of the releases' HTTPS server (cloud/hub/jobs.py); None: none

    def start(self):
        self.lock = self.lock or DataDirLock(self.data_dir).acquire()
        # A damaged file stops the start before any service opens it and fails half started.
        check_databases(self.data_dir)
        self.signing_key = checkpoint.load_or_create_key(self.data_dir)
        self.ledger = Ledger(self.ledger_path)
        self.store = projection.SqliteStore(self.history_path)
        self.publisher = mqtt_client(self.pki, "publisher", "cat-feeder-hub-publisher")
        connected = threading.Event()
        self.publisher.on_connect = lambda *args: connected.set()
        self.publisher.connect_async(self.host, self.port, keepalive=30)
        self.publisher.loop_start()
        if not connected.wait(CONNECT_WAIT_S):
            log.warning("hub: the broker is not reachable yet; feeds are retried until it is")
        self.events = LedgerEvents()
        self.shadows = shadows.ShadowService(
            self.data_dir, self.pki, self.host, self.port, self.ledger_path, self.topology,
            self.commits.committed,
        ).start()
        # Updates over the air: the jobs topics and the releases' files (cloud/hub/jobs.py).
        self.jobs = jobs.JobService(
            self.data_dir, self.pki, self.host, self.port, self.ledger_path, self.commits.committed,
            self.stopping,
        ).start()
        self.files = None
        if self.https is not None:
            try:
                self.files = jobs.FileServer(self.data_dir, self.pki, *self.https).start()
            except OSError as error:  # the port taken: everything but the updates' downloads still works
                log.error("hub: no HTTPS server for updates on %s:%d (%s): pass --https-port N",
                          self.https[0], self.https[1], error.strerror or error)
        self.alerting = alerting.Alerting(
            self.data_dir, self.topology, self.notify_urls, self.stopping, self.alert_check_s
        )
        self.runtime = Runtime(
            self.topology,
            iot_data=LocalIotData(self.publisher),
            events=self.events,
            store=self.store,
            shadows=self.shadows.store,
            alerts=self.alerting.client,
        )
        self.deliverers = [
            delivery.Deliverer(
                self.ledger_path,
                rule,
                self.commits,
                self.stopping,
                self._around_batch(rule),
                linger_s=alerting.LINGER_S if rule.name == alerting.RULE else 0.0,
            )
            for rule in delivery.rules(self.topology, self.runtime)
        ]
        for deliverer in self.deliverers:
            deliverer.start()
        self.ingest = Ingest(
            self.ledger, self.events, self.runtime, self.pki, self.host, self.port, self.commits.committed
        )
        self._start_reports()  # the start checkpoint signs the ledger as found, before ingest adds to it
        self.ingest.start()
        self.alerting.start(self.runtime[alerting.RULE], self.ingest, self.ledger_path)
        if not self.ingest.subscribed.wait(CONNECT_WAIT_S):
            log.warning("hub: not subscribed yet; the broker will queue for the hub once it is")
        return self

    def _start_reports(self):
        """Checkpoints and health, retained on the broker by a client of their own (ingest's session
        stays a pure subscriber)."""
        self.reports_client = mqtt_client(self.pki, "hub", "cat-feeder-hub-reports")
        self.checkpointer = checkpoint.Checkpointer(
            self.data_dir, self.signing_key, self.ledger_path, self.reports_client, self.stopping,
            self.checkpoint_interval_s,
        )
        self.health = health.HealthReporter(self.ingest, self.reports_client, self.stopping)
        self.reports_client.on_connect = lambda *args: (
            self.checkpointer.publish_latest(),
            self.health.publish(),
        )
        self.checkpointer.start()
        self.health.start()
        self.reports_client.connect_async(self.host, self.port, keepalive=30)
        self.reports_client.loop_start()

    def _stop_reports(self):
        self.health.stop()
        self.checkpointer.stop()
        self.reports_client.disconnect()
        self.reports_client.loop_stop()

    def _around_batch(self, rule):
        """The history rule projects a delivery batch in one transaction of the history file."""
        if rule.name == HISTORY_RULE:
            return lambda: delivery.transaction(self.store.db)
        if rule.name == alerting.RULE:
            return self.alerting.batch
        return contextlib.nullcontext

    def delivered(self):
        """True when every rule's cursor has reached the end of the ledger."""
        (last,) = self.ledger.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return all(deliverer.cursor >= last for deliverer in self.deliverers)

    def stop(self):
        if self.runtime is None:
            return
        self.ingest.stop()
        self.stopping.set()
        self.commits.committed()  # wakes the rules' threads to see it
        for deliverer in self.deliverers:
            deliverer.join(15)
        self.alerting.join(15)
        self._stop_reports()
        self.shadows.stop()
        self.jobs.stop()
        if self.files is not None:
            self.files.stop()
        self.publisher.disconnect()
        self.publisher.loop_stop()
        self.runtime = None
        self.ledger.close()
        self.store.close()
        self.lock.release()
