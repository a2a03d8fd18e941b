"""An update's download into the free slot, a chunk at a time (firmware/README.md, "Over-the-air updates";
docs/protocol.md, "Updates over the air"). Imported by otajob.py only while an update downloads, and
released with it. `step` returns the report to send on the job's update topic, if any: IN_PROGRESS
`downloading` after each file, `staged` once the slot is the next boot's trial (`ota/job` written,
otadoc.py); it raises otaverify.Refused when the update is refused.

`Download.step(now_ms)` does at most one bounded piece of work per main-loop iteration: send one file's
request (over the download's one HTTPS connection, opened by the first request: TLS with the board's CA,
CERT_REQUIRED and server_hostname, like connect.py; from a folder `url` with the device's own certificate
too: the hub serves releases to its household's boards only; from a `bundle`, none: S3 asks for none), or
read one CHUNK into the one buffer and append it to the file in the slot. So a command is read by the
loop's link.poll between chunks, and a dispense never waits for more than one chunk (or one handshake).

The connection is kept for the next file's request (HTTP/1.1 persistent connection, RFC 9112 section 9.3)
unless the server's response said `Connection: close`. A server may close an idle kept connection at any
time (section 9.5): a kept connection found closed by the next request (an OSError writing it or reading
the status line, or no status line) is closed and the next step opens a new one, once per request and not
counted as an interruption; a new connection's failure is one. The connection is closed when the download
ends (close, called by otajob.py).

Order: `manifest.txt` and `manifest.sig` first, then `otaverify.check_manifest` (signature, version, free
space) before any other byte is fetched; then exactly the files the signed manifest lists (never a name
the job document adds), each requested with `Range: bytes=<bytes on flash>-<size - 1>` (from a `bundle`,
one object holding manifest.txt, manifest.sig and the manifest's files in its order, back to back: the
same range moved by the file's offset, `bundle_files` placing the first two, the signed sizes the rest;
the URL's query string, a pre-signed URL's signature, kept in the request): a download cut
anywhere (TLS error, timeout, the server gone) goes on from the bytes already on flash after RETRY_MS,
and the slot is never written past a file's signed size. At the end `otastage.finish` checks the
signature and every file's SHA-256 again and makes the slot the next boot's trial.
"""

import gc
import json
import os
import select
import socket
import ssl

import bootonly
import otaboot
import otastage
import otaverify
from micropython import const

TYPE_CHECKING = const(False)  # mypy reads the block below; MicroPython compiles it away
if TYPE_CHECKING:
    from typing import Any  # noqa: F401  (in a type comment)

CHUNK = const(1024)  # bytes read and written per step: the one buffer
RETRY_MS = const(2000)  # after an interrupted connection
RETRY_WAIT_MS = const(250)  # the loop's poll while waiting to resume
READ_WAIT_MS = const(20)  # the loop's poll while the server is silent: not a busy loop
MAX_FAILURES = const(30)  # consecutive interruptions before the update fails
# The longest a step blocks: one socket operation (the TCP connect, the TLS handshake, the request, a
# TLS record only partly arrived), under the main loop's longest poll (app.MAX_WAIT_MS, 5 s), so a
# command waits no longer than it can without an update. Also the silence that counts as an interruption.
TIMEOUT_MS = const(3000)
FIRST = (otaverify.MANIFEST, otaverify.SIGNATURE)


def split_url(url):
    """(host, port, path) of an https URL; ValueError for any other."""
    if not url.startswith("https://"):
        raise ValueError("not an https URL")
    rest = url[8:]
    slash = rest.find("/")
    if slash < 0:
        raise ValueError("no path")
    host, path = rest[:slash], rest[slash:]
    port = 443
    if ":" in host:
        host, number = host.split(":")
        port = int(number)
    return host, port, path


class Download:
    def __init__(self, job_id, version, url, root, tls, release_key, clock, log, places=None):
        """url: the release's folder (job document `url`, ending in /), or with places the one object of
        a `bundle` and places ((offset, size) of manifest.txt, of manifest.sig; otadoc.py); tls: the mqtt
        config (ca, cert, key paths); release_key: config ota.release_key (hex; None: every release is
        refused)."""
        self.job_id, self.version = job_id, version
        self.host, self.port, self.path = split_url(url)
        self.places = places
        self.offset = 0  # the file's first byte in the bundle
        self.root = root
        self.tls = tls
        self.context = None  # type: Any  # the TLS context of every request, made by the first (_connect)
        self.modulus = None if release_key is None else int(release_key, 16)
        self.clock = clock
        self.log = log
        self.staged = False
        self.directory = otastage.begin(root)
        self.buf = bytearray(CHUNK)
        self.index = 0  # the next file: FIRST, then the manifest's file lines
        self.total = 0  # the release's bytes, once the manifest was judged
        self.fetched = 0  # bytes written this boot
        self.name = None  # the file being fetched and its signed size (None: unknown yet)
        self.size = None  # type: Any
        self.stream = None  # type: Any  # the download's HTTPS connection (None: none open)
        self.reusable = False  # the server keeps the connection after the response being read
        self.out = None  # type: Any  # the file in the slot the response being read goes to (None: no response)
        self.remaining = 0  # bytes of the open response still to read
        self.connections = 0  # connections opened (the log's staged line)
        self.failures = 0
        self.resumes = 0  # requests that went on from bytes already on flash
        self.poller = select.poll()
        self.waiting = False  # the last step found no byte to read (the loop need not come back at once)
        self.last_rx = 0  # ticks of the response's last bytes
        self.retry_from = None  # ticks of the last interruption
        self.last_error = None
        log("ota: %s: downloading %s" % (job_id, version))

    def progress(self, step):
        """The IN_PROGRESS report: (jobId, request text), with "<bytes fetched>/<release bytes>" (the
        total once the manifest was judged)."""
        details = {"step": step, "progress": "%d/%d" % (self.fetched, self.total)}
        return self.job_id, json.dumps({"status": "IN_PROGRESS", "statusDetails": details})

    def wait_ms(self, wait):
        """How long the loop may block in link.poll: not at all while there are bytes to read."""
        if self.retry_from is not None:
            return min(wait, RETRY_WAIT_MS)
        return min(wait, READ_WAIT_MS) if self.waiting else 0

    def step(self, now_ms):
        """One piece of work; returns the report to send, or None. Raises otaverify.Refused (the update
        is refused, after MAX_FAILURES interruptions in a row too)."""
        if self.retry_from is not None:
            if self.clock.ticks_diff(now_ms, self.retry_from) < RETRY_MS:
                return None
            self.retry_from = None
        self.waiting = False
        index = self.index
        try:
            if self.out is None:
                if self.name is None and not self._next_file():
                    return self._stage()
                self._request(now_ms)
            else:
                self._read(now_ms)
        except (OSError, MemoryError) as exc:  # a broken connection, or no heap for it: resume from flash
            self._interrupted(exc, now_ms)
        if self.index != index and self.index > 2:
            return self.progress("downloading")  # a file more is on flash
        return None

    def _stage(self):
        self._disconnect()  # every file is there; its heap back before the checks
        slot = otastage.finish(self.root, self.modulus)
        bootonly.call("otadoc", "stage", self.root, self.job_id, self.version)
        self.staged = True
        self.log("ota: %s: staged %s in slot %s (%d resumed, connections: %d)"
                 % (self.job_id, self.version, slot, self.resumes, self.connections))
        return self.progress("staged")

    def _next_file(self):
        """Choose the next file to fetch; False when every file is there."""
        places = self.places
        if self.index < 2:
            self.name, self.size = FIRST[self.index], None
            if places is not None:
                self.offset, self.size = places[self.index]
            return True
        if self.index == 2:  # both there: judged before any other byte is fetched
            self.total = otaverify.check_manifest(
                self.directory, self.modulus, otaboot.running_version(self.root),
                os.statvfs(self.directory), self.buf)[2]
            if places is not None:  # the manifest's files follow the signature
                self.offset = places[1][0] + places[1][1]
        entry = self._manifest_file(self.index - 2)
        if entry is None:
            return False
        self.size, self.name = entry
        return True

    def _manifest_file(self, number):
        """(size, name) of the manifest's number-th file line (0-based), or None past the last."""
        with open(self.directory + "/" + otaverify.MANIFEST) as f:
            for line in f:
                words = line.split()
                if words and words[0] == "file":
                    if number == 0:
                        return int(words[1]), words[3]
                    number -= 1
        return None

    def _request(self, now_ms):
        path = self.directory + "/" + self.name
        try:
            have = os.stat(path)[6]
        except OSError:
            have = 0
        if self.size is not None and have >= self.size:
            self._file_done()
            return
        last = "" if self.size is None else str(self.size - 1)
        if self.places is None:
            target = self.path + self.name
        else:  # the bundle's one object: its path and query string as given, the range moved to the file
            target = self.path
            last = str(self.offset + self.size - 1)
        reused = self.stream is not None  # the server may have closed it since its last response
        if not reused:
            self.stream = self._connect()
            self.poller.register(self.stream, select.POLLIN)
            self.connections += 1
        try:
            self.stream.write(("GET %s HTTP/1.1\r\nHost: %s\r\nRange: bytes=%d-%s\r\n\r\n"
                               % (target, self.host, self.offset + have, last)).encode())
            status = self.stream.readline().split()
        except OSError:
            if not reused:
                raise
            status = []
        if not status:  # closed before answering
            if not reused:
                raise OSError("connection closed before the status line")
            self._disconnect()  # closed by the server while kept: a new one next step, no interruption
            return
        length = None
        self.reusable = status[:1] == [b"HTTP/1.1"]  # HTTP/1.0 closes after each response
        while True:
            line = self.stream.readline()
            if not line or line == b"\r\n":
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
            elif line[:11].lower() == b"connection:" and b"close" in line.lower():
                self.reusable = False  # the server closes it after this response
        if len(status) < 2 or status[1] not in (b"200", b"206") or length is None:
            code = status[1].decode() if len(status) > 1 else "none"
            raise otaverify.Refused("download: %s answered %s" % (self.name, code))
        if status[1] == b"200" and (have or self.places is not None):
            raise otaverify.Refused("download: %s: the server ignored the range" % self.name)
        if self.size is not None and length > self.size - have:  # never past the file's size
            raise otaverify.Refused("download: %s: %d bytes answered, %d asked"
                                    % (self.name, length, self.size - have))
        if have:
            self.resumes += 1
        self.remaining = length
        self.out = open(path, "ab")
        self.last_rx = now_ms

    def _connect(self):
        raw = socket.socket()
        try:
            raw.settimeout(TIMEOUT_MS / 1000)
            raw.connect(socket.getaddrinfo(self.host, self.port)[0][-1])
            gc.collect()  # the last file's garbage freed first: the handshake finds larger pieces
            context = self.context
            if context is None:  # one for the download: its 3 KB block and the certificates are made once
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # see connect.py
                context.load_verify_locations(cadata=_read(self.tls["ca"]))
                if self.places is None:  # the hub's file server asks for the board's certificate; S3 does not
                    context.load_cert_chain(_read(self.tls["cert"]), _read(self.tls["key"]))
                self.context = context
            return context.wrap_socket(raw, server_hostname=self.host)
        except Exception:
            raw.close()
            raise

    def _read(self, now_ms):
        """One chunk, only when the stream has bytes (its poll counts TLS's buffered bytes too): a slow
        server never blocks the loop; a silence of TIMEOUT_MS is an interruption."""
        got = 0
        if self.remaining:
            if not self.poller.poll(0):
                if self.clock.ticks_diff(now_ms, self.last_rx) >= TIMEOUT_MS:
                    raise OSError("no bytes for %d ms" % TIMEOUT_MS)
                self.waiting = True
                return
            got = self.stream.readinto(self.buf, min(CHUNK, self.remaining))
            self.last_rx = now_ms
        if got:
            self.out.write(memoryview(self.buf)[:got])
            self.remaining -= got
            self.fetched += got
        if not self.remaining:
            self._close_file()
            if not self.reusable:
                self._disconnect()
            self._file_done()
        elif not got:
            raise OSError("connection closed with %d bytes to go" % self.remaining)
        self.failures = 0

    def _file_done(self):
        self.index += 1
        if self.places is not None and self.size is not None:
            self.offset += self.size  # the next file of a bundle (the first two are placed, otadoc.py)
        self.name = self.size = None

    def _interrupted(self, exc, now_ms):
        self.close()
        self.failures += 1
        self.last_error = "%s: %r" % (self.name, exc)
        if self.failures >= MAX_FAILURES:
            raise otaverify.Refused("download: %d attempts failed, the last %s"
                                    % (self.failures, self.last_error))
        self.retry_from = now_ms

    def _close_file(self):
        if self.out is not None:
            _close(self.out)
            self.out = None

    def _disconnect(self):
        if self.stream is not None:
            self.poller.unregister(self.stream)
            _close(self.stream)
            self.stream = None

    def close(self):
        """The file being written and the connection (called when the download ends, and on an
        interruption)."""
        self._close_file()
        self._disconnect()


def _close(each):
    try:
        each.close()
    except OSError:
        pass


def _read(path):
    with open(path, "rb") as f:
        return f.read()
