"""A local HTTP receiver standing in for a notification service: Apprise's `json://127.0.0.1:PORT/...`
posts each notification to it (title, message). For tests/integration/test_hub_alerts.py and
bench/alerts.py.

    receiver = Receiver().start()    # .url(user, password) the Apprise URL; .notes; .stop(); .start() again
"""

import http.server
import json
import threading
import time

from cloud.hub.processes import free_port


class Receiver:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.notes = []  # (time.monotonic() at arrival, the posted JSON)
        self.arrived = threading.Condition()
        self.server = None

    def url(self, user="household", password="s3cret-token"):
        """The Apprise URL of this receiver, with credentials (which the hub must never print)."""
        return "json://%s:%s@127.0.0.1:%d/notify" % (user, password, self.port)

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    receiver.notes.append((time.monotonic(), json.loads(body)))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def titles(self):
        with self.arrived:
            return [note["title"] for _, note in self.notes]

    def wait_for(self, count, timeout_s):
        """The titles once at least count notes arrived (fails naming those that did)."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while len(self.notes) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, "receiver: %d of %d notes arrived: %r" % (
                    len(self.notes),
                    count,
                    [note["title"] for _, note in self.notes],
                )
                self.arrived.wait(remaining)
        return self.titles()
