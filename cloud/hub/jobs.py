"""The hub's updates over the air (docs/protocol.md, "Updates over the air"): what AWS IoT Jobs does for a
feeder's update, on the same reserved topics and with the same documents, so the firmware has one code path
(firmware/otajob.py); and the release's files over HTTPS with the household CA, where AWS would give a
pre-signed S3 URL.

- `offer(...)` (`python -m cloud.hub ota`, `make ota`): copies a built release (`make release`) into the
  hub's data folder (`ota/<version>/`), queues a job for the thing in `jobs.sqlite3`, and appends
  UpdateOffered to the ledger. One pending job per thing.
- `JobService` answers devices on the broker, as the Jobs device MQTT API does
  (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html): `$next/get` ->
  `$next/get/accepted` with the next pending execution (IN_PROGRESS before QUEUED, then oldest), or without
  `execution` when there is none; `<jobId>/update` -> `<jobId>/update/accepted`, or `/rejected` with AWS's
  codes (`VersionMismatch` when `expectedVersion` is not the execution's version, `InvalidStateTransition`
  from a terminal status, `InvalidRequest`); `notify-next` when a job is queued or the next one changes
  (.../jobs-comm-notifications.html). Each status change is a ledger event: IN_PROGRESS the first time,
  UpdateStarted; SUCCEEDED, UpdateSucceeded; FAILED, UpdateRolledBack when the device says it rolled back
  (statusDetails.reason starting `rolled back`), else UpdateFailed (the refusal's reason).
- `FileServer` serves `ota/<version>/<file>` over HTTPS (the broker's certificate, so the names a board
  verifies are the broker's; client certificates of the household CA required, so only the household's
  boards read releases), with `Range: bytes=N-` (and `N-M`) answered 206, so a device resumes a download;
  HTTP/1.1 with every response's exact Content-Length, so a board fetches a release's files over one kept
  connection (RFC 9112 section 9.3), closed by the server after IDLE_S without a request.
  `.connections`: the TLS connections accepted since the start.
"""

import http.server
import json
import logging
import os
import re
import shutil
import sqlite3
import ssl
import threading
import time
from datetime import datetime, timezone

from cloud.hub import ledger as ledger_mod
from cloud.hub.events import LedgerEvents
from cloud.hub.ingest import acknowledging, mqtt_client, parse_payload
from cloud.topology import SOURCE, UPDATE_OFFERED, jobs_topic, ota_job_id, update_detail, update_event

log = logging.getLogger("hub")
IDLE_S = 30  # a kept HTTPS connection's wait for its next request: a board gone mid-download holds no thread
JOBS_FILE = "jobs.sqlite3"
RELEASES_DIR = "ota"
CLIENT_ID = "cat-feeder-hub-jobs"
DEFAULT_HTTPS_PORT = 8443
# A statusDetails value, as AWS IoT Jobs bounds it (https://docs.aws.amazon.com/iot/latest/apireference/
# API_iot-jobs-data_UpdateJobExecution.html): it becomes the ledger's and the page's reason of an update.
MAX_DETAIL = 1024
PENDING = ("QUEUED", "IN_PROGRESS")
TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED", "CANCELED", "TIMED_OUT", "REMOVED")
NOTIFY_CHECK_S = 0.2  # how often the service looks for jobs `offer` queued (another process)
VERSION = re.compile(r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}")
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # firmware/otaverify.py's names
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, thing TEXT NOT NULL, document TEXT NOT NULL, status TEXT NOT NULL,
    version INTEGER NOT NULL, details TEXT NOT NULL, queued_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    notified INTEGER NOT NULL DEFAULT 0
);
"""


class OtaError(Exception):
    """A failure of `offer` the user can fix; one line."""


class JobRejected(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class JobStore:
    def __init__(self, path, clock=time.time):
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.clock = clock

    def close(self):
        self.db.close()

    def queue(self, thing, job_id, document):
        now = int(self.clock())
        with self.lock:
            pending = self.next(thing)
            if pending is not None:
                raise OtaError("%s already has a pending update, %s (%s)"
                               % (thing, pending["jobId"], pending["status"]))
            self.db.execute(
                "INSERT INTO jobs (job_id, thing, document, status, version, details, queued_at, updated_at)"
                " VALUES (?, ?, ?, 'QUEUED', 1, '{}', ?, ?)",
                (job_id, thing, json.dumps(document, sort_keys=True), now, now),
            )

    def next(self, thing):
        """The next pending execution as the Jobs API gives it, or None."""
        row = self.db.execute(
            "SELECT job_id, status, version, details, queued_at, updated_at, document FROM jobs"
            " WHERE thing = ? AND status IN ('QUEUED', 'IN_PROGRESS')"
            " ORDER BY status = 'QUEUED', queued_at, job_id LIMIT 1",
            (thing,),
        ).fetchone()
        if row is None:
            return None
        execution = {"jobId": row[0], "thingName": thing, "status": row[1], "versionNumber": row[2],
                     "executionNumber": 1, "queuedAt": row[4], "lastUpdatedAt": row[5],
                     "jobDocument": json.loads(row[6])}
        details = json.loads(row[3])
        if details:
            execution["statusDetails"] = details
        return execution

    def unnotified(self):
        return [row[0] for row in self.db.execute("SELECT DISTINCT thing FROM jobs WHERE notified = 0")]

    def mark_notified(self, thing):
        self.db.execute("UPDATE jobs SET notified = 1 WHERE thing = ?", (thing,))

    def update(self, thing, job_id, request):
        """Apply an UpdateJobExecution request; returns (previous status, new status, document)."""
        status = request.get("status") if isinstance(request, dict) else None
        details = request.get("statusDetails", {}) if isinstance(request, dict) else None
        if status not in PENDING + TERMINAL or not isinstance(details, dict):
            raise JobRejected("InvalidRequest", "status: a job execution status; statusDetails: an object")
        if any(not isinstance(value, str) for value in details.values()):
            raise JobRejected("InvalidRequest", "statusDetails values must be strings")
        if any(len(value) > MAX_DETAIL for value in details.values()):
            raise JobRejected("InvalidRequest", "statusDetails values: at most %d characters" % MAX_DETAIL)
        with self.lock:
            row = self.db.execute(
                "SELECT status, version, document FROM jobs WHERE thing = ? AND job_id = ?", (thing, job_id)
            ).fetchone()
            if row is None:
                raise JobRejected("ResourceNotFound", "job %s not found for %s" % (job_id, thing))
            previous, version, document = row
            expected = request.get("expectedVersion")
            if expected is not None and expected != version:
                raise JobRejected("VersionMismatch",
                                  "expectedVersion %s, the execution is at %d" % (expected, version))
            if previous in TERMINAL:
                raise JobRejected("InvalidStateTransition", "the execution is %s" % previous)
            self.db.execute(
                "UPDATE jobs SET status = ?, version = version + 1, details = ?, updated_at = ?,"
                " notified = CASE WHEN ? IN ('QUEUED', 'IN_PROGRESS') THEN notified ELSE 0 END"
                " WHERE job_id = ?",
                (status, json.dumps(details, sort_keys=True), int(self.clock()), status, job_id),
            )
        return previous, status, json.loads(document)


def ledger_event(kind, thing, document, **detail):
    """An update's ledger event (docs/protocol.md, "In the ledger"), as LedgerEvents records it."""
    events = LedgerEvents()
    body = update_detail(thing, document["jobId"], document["version"], **detail)
    events.put_events(Entries=[{"Source": SOURCE, "DetailType": kind, "Detail": json.dumps(body),
                                "Time": datetime.now(timezone.utc)}])
    return events.take()


def offer(data_dir, thing, version, release_root, host, https_port, clock=time.time):
    """Queue `version` (built in release_root/<version>/ by `make release`) for `thing`; returns the job
    document. The hub running on data_dir notifies the thing; a thing offline asks at its next connect."""
    if not VERSION.fullmatch(version):
        raise OtaError("VERSION=%s: expected MAJOR.MINOR.PATCH" % version)
    source = os.path.join(release_root, version)
    if not os.path.exists(os.path.join(source, "manifest.sig")):
        raise OtaError("no release %s in %s: make release VERSION=%s first"
                       % (version, release_root, version))
    ledger_path = os.path.join(data_dir, "ledger.sqlite3")
    if not os.path.exists(ledger_path):
        raise OtaError("no hub ledger in %s: start the hub (make hub) first" % data_dir)
    target = os.path.join(data_dir, RELEASES_DIR, version)
    if os.path.exists(target):
        shutil.rmtree(target)
    shutil.copytree(source, target)
    job_id = ota_job_id(version, clock())
    # The files the device fetches, in order: the manifest and its signature first (judged before the rest).
    files = ["manifest.txt", "manifest.sig"] + sorted(
        name for name in os.listdir(target) if name not in ("manifest.txt", "manifest.sig"))
    document = {"operation": "ota", "version": version, "url": "https://%s:%d/%s/%s/" % (
        host, https_port, RELEASES_DIR, version), "files": files}
    store = JobStore(os.path.join(data_dir, JOBS_FILE), clock)
    try:
        store.queue(thing, job_id, document)
    finally:
        store.close()
    ledger = ledger_mod.Ledger(ledger_path)
    try:
        ledger.append_batch(ledger_event(UPDATE_OFFERED, thing, dict(document, jobId=job_id),
                                         size=_release_size(target)))
    finally:
        ledger.close()
    return dict(document, jobId=job_id)


def _release_size(directory):
    return sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))


class JobService:
    """The jobs topics on the broker, served from a JobStore; status changes become ledger events."""

    def __init__(self, data_dir, pki, host, port, ledger_path, on_commit, stopping):
        self.client = mqtt_client(pki, "hub", CLIENT_ID, clean_session=False, manual_ack=True)
        self.store = JobStore(os.path.join(data_dir, JOBS_FILE))
        self.ledger = ledger_mod.Ledger(ledger_path)
        self.on_commit = on_commit
        self.stopping = stopping
        self.host, self.port = host, port
        self.client.on_connect = self._on_connect
        self.client.on_message = acknowledging(self.handle, "jobs")
        self.notifier = threading.Thread(target=self._notify_loop, name="jobs-notify", daemon=True)

    def start(self):
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self.notifier.start()
        return self

    def stop(self):
        self.notifier.join(5)
        self.client.disconnect()
        self.client.loop_stop()
        self.ledger.close()
        self.store.close()

    def _publish(self, topic, document):
        if self.client.is_connected():  # a device that missed it asks again ($next/get) at its next connect
            self.client.publish(topic, json.dumps(document, separators=(",", ":")), qos=1)

    def _notify_loop(self):
        while not self.stopping.wait(NOTIFY_CHECK_S):
            if not self.client.is_connected():
                continue
            for thing in self.store.unnotified():
                self._notify(thing)
                self.store.mark_notified(thing)

    def _notify(self, thing):
        message = {"timestamp": int(time.time())}
        execution = self.store.next(thing)
        if execution is not None:
            message["execution"] = execution
        self._publish(jobs_topic(thing, "notify-next"), message)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("hub: broker refused the jobs service: %s", reason_code)
            return
        client.subscribe([(jobs_topic("+", "$next/get"), 1), (jobs_topic("+", "+/update"), 1)])

    def handle(self, topic, payload):
        levels = topic.split("/")  # $aws things <thing> jobs <jobId or $next> <get or update>
        thing, job_id = levels[2], levels[4]
        try:
            request = parse_payload(payload) if payload else {}
        except ValueError:
            request = None
        token = request.get("clientToken") if isinstance(request, dict) else None
        if levels[5:] == ["get"]:
            answer = {"timestamp": int(time.time())}
            execution = self.store.next(thing)
            if execution is not None:
                answer["execution"] = execution
            self._publish(jobs_topic(thing, "$next/get/accepted"), dict(answer, **_token(token)))
            return
        try:
            previous, status, document = self.store.update(thing, job_id, request)
        except JobRejected as refused:
            log.warning("hub: job update of %s %s refused (%s): %s", thing, job_id, refused.code, refused)
            answer = {"code": refused.code, "message": str(refused), "timestamp": int(time.time())}
            self._publish(jobs_topic(thing, job_id + "/update/rejected"), dict(answer, **_token(token)))
            return
        self._record(thing, dict(document, jobId=job_id), previous, status, request.get("statusDetails", {}))
        self._publish(jobs_topic(thing, job_id + "/update/accepted"),
                      dict({"timestamp": int(time.time())}, **_token(token)))
        if status not in PENDING:
            self._notify(thing)

    def _record(self, thing, document, previous, status, details):
        event = update_event(previous, status, details)  # the mapping AWS's job execution events share
        log.info("update %s %s: %s %s", thing, document["jobId"], status, json.dumps(details, sort_keys=True))
        if event is not None:
            self.ledger.append_batch(ledger_event(event[0], thing, document, **event[1]))
            self.on_commit()


def _token(token):
    return {"clientToken": token} if token is not None else {}


class FileServer:
    """The releases in data_dir/ota over HTTPS, with Range (see the module docstring)."""

    def __init__(self, data_dir, pki, bind, port, idle_s=IDLE_S):
        root = os.path.join(data_dir, RELEASES_DIR)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.cert("broker"), pki.key("broker"))
        context.load_verify_locations(pki.cert("ca"))
        context.verify_mode = ssl.CERT_REQUIRED  # the household's boards only

        class Handler(_ReleaseHandler):
            releases = root
            timeout = idle_s  # a kept connection's wait for its next request (and any one socket operation)

        self.server = CountingServer((bind, port), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="ota-https", daemon=True)

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def connections(self):
        return self.server.connections

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class CountingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    connections = 0

    def verify_request(self, request, client_address):  # each accepted connection, on the serving thread
        self.connections += 1
        return True


class _ReleaseHandler(http.server.BaseHTTPRequestHandler):
    releases = ""
    protocol_version = "HTTP/1.1"  # kept connections: every response carries its exact Content-Length

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        log.debug("ota https: " + format, *args)

    def do_GET(self):  # noqa: N802 - http.server's name
        parts = self.path.split("/")  # '' ota <version> <file>
        ok = len(parts) == 4 and parts[1] == RELEASES_DIR and VERSION.fullmatch(parts[2])
        path = os.path.join(self.releases, parts[2], parts[3]) if ok else None
        if path is None or not FILE_NAME.fullmatch(parts[3]) or not os.path.isfile(path):
            return self._fail(404, "not found")
        size = os.path.getsize(path)
        start, end = 0, size - 1
        wanted = self.headers.get("Range")
        if wanted is not None:
            found = re.fullmatch(r"bytes=([0-9]+)-([0-9]*)", wanted.strip())
            if found is None or int(found.group(1)) > size:
                return self._fail(416, "bad range")
            start = int(found.group(1))
            end = min(end, int(found.group(2))) if found.group(2) else end
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(max(0, end - start + 1))
        self.send_response(206 if wanted is not None else 200)
        self.send_header("Content-Length", str(len(body)))
        if wanted is not None:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, start + len(body) - 1, size))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
