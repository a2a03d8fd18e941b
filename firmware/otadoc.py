"""A job's execution judged (otajob.py; docs/protocol.md, "Updates over the air"): imported for one call
and released (bootonly.py), so the JSON parse and these rules cost no resident heap.

`ota/job` (`<jobId> <version>`) is written when an update is staged (otafetch.py) and removed once its
outcome was sent (`forget`): after the restart, the same execution comes back IN_PROGRESS and its
outcome is this file against the running set.
"""

import json
import os

JOB_FILE = "/ota/job"


def consider(payload, root, finished, under_way):
    """What an execution (`$next/get/accepted`, `notify-next`) asks: None (no pending job, already
    under way or finished this boot, a trial not restarted yet), ("outcome", jobId, status, details) of
    the update staged before the restart, ("refuse", jobId, "FAILED", details) of a job this firmware
    cannot do, or ("start", jobId, version, url)."""
    try:
        execution = json.loads(payload).get("execution")
        job_id, status, document = execution["jobId"], execution["status"], execution["jobDocument"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # no `execution`: nothing pending
    if status not in ("QUEUED", "IN_PROGRESS") or job_id in (finished, under_way) or not _valid_id(job_id):
        return None
    if not isinstance(document, dict):
        document = {}
    version, url = document.get("version"), document.get("url")
    folder = isinstance(url, str) and url.startswith("https://") and url.endswith("/")
    if document.get("operation") != "ota" or not _valid_version(version) or not folder:
        return "refuse", job_id, "FAILED", {"reason": "not an ota job of this firmware"}
    staged = _staged(root)
    if staged is None or staged[0] != job_id:
        return "start", job_id, version, url
    import otaboot

    if otaboot.on_trial(root) is not None:
        return None  # staged, the restart not done yet (a reconnect before it)
    running = "%d.%d.%d" % otaboot.running_version(root)
    if running == staged[1]:
        return "outcome", job_id, "SUCCEEDED", {"version": running}
    return "outcome", job_id, "FAILED", {"reason": "rolled back: running " + running}


def _valid_id(job_id):
    """AWS IoT's jobId: 1-64 of [a-zA-Z0-9_-] (CreateJob); it becomes a topic level and a word of ota/job."""
    if not isinstance(job_id, str) or not 0 < len(job_id) <= 64:
        return False
    for ch in job_id:
        if not ("a" <= ch <= "z" or "A" <= ch <= "Z" or "0" <= ch <= "9" or ch in "_-"):
            return False
    return True


def _valid_version(version):
    """MAJOR.MINOR.PATCH (tools/release.py's), the release's own: compared with the running one's."""
    parts = version.split(".") if isinstance(version, str) else ()
    return len(parts) == 3 and all(part.isdigit() for part in parts)


def stage(root, job_id, version):
    with open(root + JOB_FILE, "w") as f:
        f.write("%s %s\n" % (job_id, version))


def forget(root):
    try:
        os.remove(root + JOB_FILE)
    except OSError:
        pass


def _staged(root):
    """(jobId, version) from ota/job, or None."""
    try:
        with open(root + JOB_FILE) as f:
            words = f.read().split()
        return words[0], words[1]
    except (OSError, IndexError):
        return None
