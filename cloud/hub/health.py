"""The running hub's health, retained on the broker (HEALTH_TOPIC) for `python -m cloud.hub status`,
which runs in another process: every INTERVAL_S, and once more at a clean stop (`running: false`).

    {"v": 1, "running": true, "at": 1796400000.1,
     "ingest_stalled": null, "ingest_pending": 0, "ingest_lag_s": 0.0}

`ingest_stalled` is the reason the ledger refuses writes (a full disk) while it does, `ingest_pending`
the messages received and not yet committed, `ingest_lag_s` how long the commit under way has waited.
"""

import json
import threading
import time

HEALTH_TOPIC = "cat-feeder-hub/health"
INTERVAL_S = 5.0


class HealthReporter:
    def __init__(self, ingest, mqtt_client, stopping, interval_s=INTERVAL_S):
        self.ingest = ingest
        self.client = mqtt_client  # connected by the hub, which calls publish() on each connect
        self.stopping = stopping
        self.interval_s = interval_s
        self.thread = threading.Thread(target=self._loop, name="health", daemon=True)

    def report(self, running=True):
        return {
            "v": 1,
            "running": running,
            "at": time.time(),
            "ingest_stalled": self.ingest.stalled,
            "ingest_pending": self.ingest.inbox.qsize(),
            "ingest_lag_s": round(self.ingest.lag_s(), 3),
        }

    def publish(self, running=True):
        if not self.client.is_connected():
            return None
        return self.client.publish(HEALTH_TOPIC, json.dumps(self.report(running)), 1, retain=True)

    def start(self):
        self.thread.start()

    def _loop(self):
        while True:
            self.publish()
            if self.stopping.wait(self.interval_s):
                return

    def stop(self):
        self.thread.join(5)
        sent = self.publish(running=False)
        if sent is not None:
            sent.wait_for_publish(5)
