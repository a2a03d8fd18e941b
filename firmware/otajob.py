"""An update's job, device side (docs/protocol.md, "Updates over the air"): AWS IoT Jobs' device MQTT API,
which the hub serves too, so one code path for both backends.

At every connect the device asks for its next job (`$next/get`); `$next/get/accepted` and `notify-next`
bring it (`execution`: jobId, status, jobDocument). An `ota` job starts a download (otafetch.py, imported
for it and released when it ends), a chunk per main-loop iteration (`step`); progress and the outcome go
to `<jobId>/update`:

- IN_PROGRESS, statusDetails {step: downloading, progress: "<bytes>/<bytes>"} at the start and after each
  file; {step: staged} once otastage.finish made the slot the next boot's trial. The job id and version
  are kept in `ota/job`, and the board restarts (SystemExit, as app.py's trial: boot.py switches sets);
- on the next boots, the same execution comes back IN_PROGRESS: once no trial is pending, SUCCEEDED when
  the running version is the job's (the trial reached "connected and subscribed": app.py confirmed it),
  else FAILED with reason `rolled back: ...` (otaboot.select returned to the previous set);
- FAILED with the refusal's one line (otaverify.Refused: a bad signature, a hash mismatch, not newer,
  does not fit; a download that kept failing) when it is refused: the slot nothing boots keeps partial
  files, the state is unchanged.

The callbacks only note what to send; `step` sends (the link's callbacks never send).
"""

import json
import os

import otaboot
from link import describe
from micropython import const

TYPE_CHECKING = const(False)  # mypy reads the block below; MicroPython compiles it away
if TYPE_CHECKING:
    from typing import Any  # noqa: F401  (in a type comment)

NOTIFY = b"/notify-next"
NEXT = b"/$next/get/accepted"
RETRY_WAIT_MS = 250
READ_WAIT_MS = 20  # while the server is slow: the loop's poll, not a busy loop
JOB_FILE = "/ota/job"  # "<jobId> <version>": staged, awaiting its outcome after the restart


class Jobs:
    def __init__(self, thing, tls, release_key, hal, log, root="."):
        """tls: the mqtt config (the CA and the device's certificate, for the HTTPS download);
        release_key: config ota.release_key (hex), or None."""
        self.topic = "$aws/things/%s/jobs/" % thing
        self.tls = tls
        self.modulus = None if release_key is None else int(release_key, 16)
        self.hal = hal
        self.log = log
        self.root = root
        self.want_get = False
        self.job = None  # type: Any  # (jobId, version) of the update under way
        self.download = None  # type: Any  # an otafetch.Download while it downloads
        self.report = None  # type: Any  # (jobId, update request text) waiting to be sent
        self.finished = None  # jobId whose outcome this boot reported (a late repeat is ignored)
        self.restart = False

    def subscriptions(self):
        topic = self.topic
        return topic + NOTIFY[1:].decode(), topic + NEXT[1:].decode()

    def on_connect(self):
        self.want_get = True

    def wait_ms(self, wait):
        """How long the loop may block in link.poll: not at all while a download has bytes to read,
        READ_WAIT_MS while its server is silent, RETRY_WAIT_MS while it waits to resume, else wait."""
        if self.download is None:
            return wait
        if self.download.retry_from is not None:
            return min(wait, RETRY_WAIT_MS)
        return min(wait, READ_WAIT_MS) if self.download.waiting else 0

    def on_message(self, topic, payload):
        """True when topic is one of the jobs' (handled); False: not ours."""
        if not (topic.endswith(NOTIFY) or topic.endswith(NEXT)):
            return False
        try:
            execution = json.loads(payload).get("execution")
            job_id, status = execution["jobId"], execution["status"]
            document = execution["jobDocument"]
        except (ValueError, TypeError, KeyError, AttributeError):
            return True  # no pending job (no `execution`), or not a job this firmware knows
        if status not in ("QUEUED", "IN_PROGRESS") or job_id == self.finished:
            return True
        if self.job is not None and self.job[0] == job_id:
            return True  # already under way
        self._start(job_id, document)
        return True

    def _start(self, job_id, document):
        version = document.get("version") if isinstance(document, dict) else None
        if document.get("operation") != "ota" or not isinstance(version, str):
            self._finish(job_id, "FAILED", "reason", "not an ota job of this firmware")
            return
        staged = _staged(self.root)
        if staged is not None and staged[0] == job_id:
            self._outcome(job_id, staged[1])
            return
        self.job = (job_id, version)
        try:
            import otafetch  # released with the download (_end)

            self.download = otafetch.Download(document["url"], self.root, self.tls, self.modulus, self.hal)
        except Exception as exc:  # Refused (an update on trial), a bad URL, no flash: one line
            self._end()
            self._finish(job_id, "FAILED", "reason", _text(exc))
            return
        self.log("ota: %s: downloading %s" % (job_id, version))
        self._progress("downloading")

    def _outcome(self, job_id, version):
        """The staged update's outcome, once boot.py switched (or returned): SUCCEEDED or rolled back."""
        if otaboot.read_state(self.root)[1] != otaboot.BASE:
            return  # the restart has not happened yet (a reconnect before it)
        running = otaboot.running_version(self.root)
        if "%d.%d.%d" % running == version:
            self._finish(job_id, "SUCCEEDED", "version", version)
        else:
            self._finish(job_id, "FAILED", "reason", "rolled back: running %d.%d.%d" % running)

    def _progress(self, step):
        details = {"step": step, "progress": self.download.progress()} if self.download else {"step": step}
        self.report = (self.job[0], json.dumps({"status": "IN_PROGRESS", "statusDetails": details}))

    def _finish(self, job_id, status, key, value):
        self.log("ota: %s: %s %s" % (job_id, status, value))
        self.report = (job_id, json.dumps({"status": status, "statusDetails": {key: value}}))
        self.finished = job_id

    def _end(self):
        if self.download is not None:
            self.download.close()
        self.download = self.job = None
        import sys

        for name in ("otafetch", "otastage", "otaverify", "signature"):
            sys.modules.pop(name, None)  # their code leaves the heap with the download

    def step(self, link, now_ms):
        """One chunk of the download (when there is one), then what the callbacks asked to send (while
        connected). Raises SystemExit once a staged update's report is out: the board restarts."""
        if self.restart:
            self.log("ota: %s staged: restarting" % self.finished)
            raise SystemExit
        if self.download is not None:
            self._download_step(now_ms)
        if not link.connected:
            return
        if self.want_get and link.send(self.topic + "$next/get", b"{}", 1) >= 0:
            self.want_get = False
        report = self.report
        if report is not None and link.send(self.topic + report[0] + "/update", report[1], 1) >= 0:
            if self.report[0] == self.finished and _staged(self.root) is not None and self.job is None:
                _forget(self.root)  # the outcome is out: the next boot has nothing to report
            self.report = None
            self.restart = self.finished is not None and self.job is not None  # staged: restart now

    def _download_step(self, now_ms):
        download = self.download
        index = download.index
        try:
            slot = download.step(now_ms)
        except Exception as exc:  # Refused, or a flash error: the update fails, the device goes on
            job_id = self.job[0]
            self._end()
            self._finish(job_id, "FAILED", "reason", _text(exc))
            return
        if slot is None:
            if download.index != index and download.index > 2:
                self._progress("downloading")  # a file more is on flash
            return
        job_id, version = self.job
        with open(self.root + JOB_FILE, "w") as f:
            f.write("%s %s\n" % (job_id, version))
        self._progress("staged")
        self.log("ota: %s: staged %s in slot %s (%d resumed)" % (job_id, version, slot, download.resumes))
        download.close()
        self.download = None
        self.finished = job_id  # self.job stays: restart once this report is out


def _staged(root):
    """(jobId, version) from ota/job, or None."""
    try:
        with open(root + JOB_FILE) as f:
            words = f.read().split()
        return words[0], words[1]
    except (OSError, IndexError):
        return None


def _forget(root):
    try:
        os.remove(root + JOB_FILE)
    except OSError:
        pass


def _text(exc):
    """A refusal's own line (otaverify.Refused), else the exception's type and text."""
    return str(exc) if type(exc).__name__ == "Refused" else describe(exc)
