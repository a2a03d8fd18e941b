"""Shared helpers for updates over the air through the hub (tests/integration/test_device_ota_hub*.py,
bench/ota_hub.py): a signed release of this firmware, a hub serving releases over HTTPS, and what the hub
recorded (cloud/hub/jobs.py); and an S3 stand-in serving a release as one bundle object
(test_device_ota_bundle.py)."""

import os
import re

from cloud.hub import jobs
from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import Hub
from cloud.hub.processes import free_port
from tools import release, release_key

VERSION = "1.5.0"
UPDATE_EVENTS = ("UpdateOffered", "UpdateStarted", "UpdateSucceeded", "UpdateRolledBack", "UpdateFailed")


def build_release(out, keys, version=VERSION, firmware=release.FIRMWARE):
    """`make release VERSION=version` of the firmware folder (this checkout's unless a test's patched copy)
    into out with the key in keys (made if absent): (out, modulus hex)."""
    release_key.ensure(keys)
    release.build(version, out=out, key_dir=keys, log=lambda *args: None, firmware=firmware)
    return out, release_key.modulus_hex(keys)


def start_hub(data_dir, pki, broker_port):
    """The hub with its releases' HTTPS server on a free port (`.https_port`)."""
    https_port = free_port()
    hub = Hub(data_dir, pki, "127.0.0.1", broker_port, https=("127.0.0.1", https_port)).start()
    hub.https_port = https_port
    return hub


def update_events(hub):
    """[(detail-type, detail)] of the ledger's update events, in order."""
    db = ledger_mod.connect(hub.ledger_path, readonly=True)
    try:
        return [(event["detail-type"], event["detail"]) for _, event in ledger_mod.read(db)
                if event["detail-type"] in UPDATE_EVENTS]
    finally:
        db.close()


def job_status(hub, job_id):
    """(status, statusDetails JSON) of a job on the hub."""
    store = jobs.JobStore(os.path.join(hub.data_dir, jobs.JOBS_FILE))
    try:
        return store.db.execute("SELECT status, details FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    finally:
        store.close()


class BundleServer(jobs.FileServer):
    """A stand-in for S3 serving one pre-signed object (docs/protocol.md, "Updates over the air", `bundle`):
    HTTPS with the broker's certificate (signed by the test's CA, which the board trusts) and no client
    certificate asked, one path whose query string must be the one given (else 403, as S3 answers a
    pre-signed URL whose signature does not match), `Range: bytes=a-b` answered 206 with Content-Range, as
    S3's GetObject does (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html), on kept
    HTTP/1.1 connections as S3's. `.requests`: [(path with query, Range header)]; `.connections`: the TLS
    connections accepted. `cut_at(n)`: the next response that spans byte n of the object stops there and
    closes its connection, once. `close_after(n, announced)`: the connection of the n-th request (1-based)
    is closed after its whole response, which says `Connection: close` if announced (else as a server
    closes an idle connection, RFC 9112 section 9.5), once. `start`, `stop` and `connections` are the hub's
    file server's."""

    def __init__(self, pki, body, path, query):  # not FileServer.__init__: one object, no client certificate
        import http.server
        import ssl
        import threading

        self.body, self.requests, self.cut, self.closing = body, [], None, None
        rig = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                pass

            def do_GET(self):  # noqa: N802 - http.server's name
                wanted = self.headers.get("Range")
                rig.requests.append((self.path, wanted))
                if self.path != path + "?" + query:
                    return self._answer(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
                found = re.fullmatch(r"bytes=([0-9]+)-([0-9]+)", wanted or "")
                if found is None or int(found.group(1)) > int(found.group(2)) or \
                        int(found.group(2)) >= len(rig.body):
                    return self._answer(416, b"<Error><Code>InvalidRange</Code></Error>")
                start, end = int(found.group(1)), int(found.group(2))
                content = rig.body[start:end + 1]
                self.send_response(206)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(rig.body)))
                self.send_header("Content-Type", "application/octet-stream")
                closing = rig.closing
                if closing is not None and closing[0] == len(rig.requests):
                    rig.closing = None
                    self.close_connection = True
                    if closing[1]:
                        self.send_header("Connection", "close")
                self.end_headers()
                cut = rig.cut
                if cut is not None and start < cut <= end:
                    rig.cut = None
                    self.wfile.write(content[:cut - start])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # the link drops mid-file
                    return
                self.wfile.write(content)

            def _answer(self, code, text):
                self.send_response(code)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.cert("broker"), pki.key("broker"))
        self.server = jobs.CountingServer(("127.0.0.1", free_port()), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="bundle-https", daemon=True)
        self.url = "https://localhost:%d%s?%s" % (self.server.server_address[1], path, query)

    def cut_at(self, offset):
        self.cut = offset

    def close_after(self, request, announced):
        self.closing = (request, announced)
