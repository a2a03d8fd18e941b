"""A job's execution judged (otajob.py; docs/protocol.md, "Updates over the air"): imported for one call
and released (bootonly.py), so the JSON parse and these rules cost no resident heap.

`ota/job` (`<jobId> <version>`) is written when an update is staged (otafetch.py) and removed once its
outcome was sent (`forget`): after the restart, the same execution comes back IN_PROGRESS and its
outcome is this file against the running set.
"""

import json
import os

JOB_FILE = "/ota/job"
MAX_FIRST = 16384  # the largest manifest.txt or manifest.sig a `bundle_files` may place (a release of
# ~45 files has a manifest of ~4 KB; the signature is 256 bytes)


def consider(payload, root, finished, under_way):
    """What an execution (`$next/get/accepted`, `notify-next`) asks: None (no pending job, already
    under way or finished this boot, a trial not restarted yet), ("outcome", jobId, status, details) of
    the update staged before the restart, ("refuse", jobId, "FAILED", details) of a job this firmware
    cannot do, or ("start", jobId, version, url, places): url the release's folder and places None, or
    (`bundle`) the one object's URL and places ((offset, size) of manifest.txt, of manifest.sig)."""
    try:
        execution = json.loads(payload).get("execution")
        job_id, status, document = execution["jobId"], execution["status"], execution["jobDocument"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # no `execution`: nothing pending
    if status not in ("QUEUED", "IN_PROGRESS") or job_id in (finished, under_way) or not _valid_id(job_id):
        return None
    if not isinstance(document, dict):
        document = {}
    version, url, places = document.get("version"), document.get("url"), None
    if "bundle" in document:  # one object, its files back to back (AWS: a pre-signed S3 URL)
        url, places = document["bundle"], _places(document.get("bundle_files"))
        ok = places is not None and _https(url) and "/" in url[8:]
    else:
        ok = isinstance(url, str) and _https(url) and url.endswith("/")
    if document.get("operation") != "ota" or not _valid_version(version) or not ok:
        return "refuse", job_id, "FAILED", {"reason": "not an ota job of this firmware"}
    staged = _staged(root)
    if staged is None or staged[0] != job_id:
        return "start", job_id, version, url, places
    import otaboot

    if otaboot.on_trial(root) is not None:
        return None  # staged, the restart not done yet (a reconnect before it)
    running = "%d.%d.%d" % otaboot.running_version(root)
    if running == staged[1]:
        return "outcome", job_id, "SUCCEEDED", {"version": running}
    return "outcome", job_id, "FAILED", {"reason": "rolled back: running " + running}


def _https(url):
    return isinstance(url, str) and url.startswith("https://") and " " not in url


def _places(files):
    """((offset, size) of manifest.txt, of manifest.sig) from `bundle_files`, or None when malformed:
    ints, offset >= 0, size 1 .. MAX_FIRST. Not trusted: a wrong place fails the signature check."""
    found = []
    for name in ("manifest.txt", "manifest.sig"):
        try:
            offset, size = files[name]
        except (TypeError, KeyError, ValueError):
            return None
        if type(offset) is not int or type(size) is not int or offset < 0 or not 0 < size <= MAX_FIRST:
            return None
        found.append((offset, size))
    return found[0], found[1]


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
