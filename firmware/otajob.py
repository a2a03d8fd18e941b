"""An update's job, device side (docs/protocol.md, "Updates over the air"): AWS IoT Jobs' device MQTT API,
which the hub serves too, so one code path for both backends.

At every connect the device asks for its next job (`$next/get`); `$next/get/accepted` and `notify-next`
bring it (`execution`), which otadoc.py judges (imported for that call and released): nothing to do, an
outcome to report (the update staged before the restart: SUCCEEDED, or rolled back), or a download to
start. The download (otafetch.py, imported for it and released when it ends) does a chunk per main-loop
iteration (`step`) and says what to report on `<jobId>/update`; once it staged the release, the board
restarts (SystemExit, as app.py's trial: boot.py switches sets). This module stays in the heap, so it
keeps only the topics, the report waiting to be sent and the download under way.

The callbacks only note what to send; `step` sends (the link's callbacks never send).
"""

import json

import bootonly
from micropython import const

TYPE_CHECKING = const(False)  # mypy reads the block below; MicroPython compiles it away
if TYPE_CHECKING:
    from typing import Any  # noqa: F401  (in a type comment)

NOTIFY = b"/notify-next"
NEXT = b"/$next/get/accepted"
# What a download imports; they leave sys.modules (and the heap) when it ends.
DOWNLOAD_MODULES = ("otafetch", "otastage", "otaverify", "otaboot", "signature")
MAX_REASON = const(256)


class Jobs:
    def __init__(self, thing, tls, release_key, hal, log, root="."):
        """tls: the mqtt config (the CA and the device's certificate, for the HTTPS download);
        release_key: config ota.release_key (hex), or None."""
        self.topic = "$aws/things/%s/jobs/" % thing
        self.tls = tls
        self.release_key = release_key
        self.hal = hal
        self.log = log
        self.root = root
        self.want_get = False
        self.download = None  # type: Any  # an otafetch.Download while an update downloads
        self.report = None  # type: Any  # (jobId, update request text) waiting to be sent
        self.finished = None  # the job whose outcome this boot found (a late repeat is ignored)
        self.then = None  # after the report is out: "restart" (staged) or "forget" (the outcome of ota/job)
        self.restart = False

    def subscriptions(self):
        topic = self.topic
        return topic + NOTIFY[1:].decode(), topic + NEXT[1:].decode()

    def on_connect(self):
        self.want_get = True

    def wait_ms(self, wait):
        """How long the loop may block in link.poll (otafetch.Download.wait_ms while downloading)."""
        return wait if self.download is None else self.download.wait_ms(wait)

    def on_message(self, topic, payload):
        """True when topic is one of the jobs' (handled); False: not ours."""
        if not (topic.endswith(NOTIFY) or topic.endswith(NEXT)):
            return False
        under_way = None if self.download is None else self.download.job_id
        todo = bootonly.call("otadoc", "consider", payload, self.root, self.finished, under_way)
        if todo is None:
            return True
        job_id = todo[1]
        if todo[0] == "start":
            self._start(job_id, todo[2], todo[3], todo[4])
        else:  # ("outcome" or "refuse", jobId, status, details)
            self._note(job_id, todo[2], todo[3], "forget" if todo[0] == "outcome" else None)
        return True

    def _start(self, job_id, version, url, places):
        try:
            import otafetch

            self.download = otafetch.Download(job_id, version, url, self.root, self.tls, self.release_key,
                                              self.hal, self.log, places)
        except Exception as exc:  # Refused (an update on trial), a bad URL, no flash: one line
            self._release()
            self._note(job_id, "FAILED", {"reason": _reason(exc)}, None)
            return
        self.report = self.download.progress("downloading")

    def _note(self, job_id, status, details, then):
        self.log("ota: %s: %s %s" % (job_id, status, " ".join(details.values())))
        self.report = (job_id, json.dumps({"status": status, "statusDetails": details}))
        self.finished, self.then = job_id, then

    def _release(self):
        import sys

        self.download = None
        for name in DOWNLOAD_MODULES:
            sys.modules.pop(name, None)

    def step(self, link, now_ms):
        """One chunk of the download (when there is one), then what the callbacks asked to send (while
        connected). Raises SystemExit once a staged update's report is out: the board restarts."""
        if self.restart:
            self.log("ota: %s staged: restarting" % self.finished)
            raise SystemExit
        download = self.download
        if download is not None:
            try:
                report = download.step(now_ms)
            except Exception as exc:  # Refused, or a flash error: the update fails, the device goes on
                download.close()
                self._release()
                self._note(download.job_id, "FAILED", {"reason": _reason(exc)}, None)
                report = None
            if report is not None:
                self.report = report
                if download.staged:
                    self.finished, self.then = download.job_id, "restart"
                    self._release()
        if not link.connected:
            return
        if self.want_get and link.send(self.topic + "$next/get", b"{}", 1) >= 0:
            self.want_get = False
        report = self.report
        if report is not None and link.send(self.topic + report[0] + "/update", report[1], 1) >= 0:
            self.report = None
            if self.then == "forget":
                bootonly.call("otadoc", "forget", self.root)  # the outcome is out
            self.restart = self.then == "restart"
            self.then = None


def _reason(exc):
    """A refusal's own line (otaverify.Refused), else the exception's type and text; at most
    MAX_REASON characters, as a result's `reason` (docs/protocol.md, "Bounds"): the text can quote a
    job document's (a port of 3 KB), and AWS IoT refuses a statusDetails value over 1,024."""
    if type(exc).__name__ == "Refused":
        return str(exc)[:MAX_REASON]
    return ("%s(%s)" % (type(exc).__name__, " ".join(str(arg) for arg in exc.args)))[:MAX_REASON]
