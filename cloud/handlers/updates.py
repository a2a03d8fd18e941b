"""An update's ledger events (docs/protocol.md, "In the ledger"), one mapping for both backends: the hub's
jobs service (cloud/hub/jobs.py) and, on AWS, IoT Jobs' job execution events through the states function
(cloud/handlers/states.py, topic rule `cat_feeder_job_outcomes`). No dependency: the states Lambda packs it.
"""

import re

UPDATE_OFFERED = "UpdateOffered"
UPDATE_STARTED = "UpdateStarted"
UPDATE_SUCCEEDED = "UpdateSucceeded"
UPDATE_ROLLED_BACK = "UpdateRolledBack"
UPDATE_FAILED = "UpdateFailed"
# An update's jobId: ota-<MAJOR_MINOR_PATCH>-<milliseconds>, within AWS's jobId rule ([a-zA-Z0-9_-]{1,64},
# https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html): at most 47 characters.
JOB_ID = re.compile(r"ota-([0-9]{1,9})_([0-9]{1,9})_([0-9]{1,9})-[0-9]{1,13}")
# Terminal statuses of a job execution that no device report names (AWS IoT Jobs ends them itself).
ENDED = ("REJECTED", "TIMED_OUT", "CANCELED", "REMOVED")


def ota_job_id(version, now_s):
    """An update's jobId, on both backends."""
    return "ota-%s-%d" % (version.replace(".", "_"), int(now_s * 1000))


def job_version(job_id):
    """The release version an update's jobId names ("1.5.0"), or None: not an update's job."""
    found = JOB_ID.fullmatch(job_id) if isinstance(job_id, str) else None
    return None if found is None else ".".join(found.groups())


def update_detail(thing, job_id, version, **more):
    """The detail of an update's ledger event."""
    return dict({"thing": thing, "job": job_id, "version": version}, **more)


def update_event(previous, status, details):
    """The ledger event of a job execution's status change: (detail-type, extra detail), or None.
    IN_PROGRESS the first time (from QUEUED), UpdateStarted; SUCCEEDED, UpdateSucceeded; FAILED,
    UpdateRolledBack when the device says it rolled back (statusDetails.reason `rolled back: ...`), else
    UpdateFailed with the refusal's line; REJECTED, TIMED_OUT, CANCELED, REMOVED (AWS ends the execution),
    UpdateFailed naming the status."""
    reason = details.get("reason", "") if isinstance(details, dict) else ""
    if not isinstance(reason, str):
        reason = ""
    if status == "IN_PROGRESS":
        return (UPDATE_STARTED, {}) if previous == "QUEUED" else None
    if status == "SUCCEEDED":
        return UPDATE_SUCCEEDED, {}
    if status == "FAILED":
        return (UPDATE_ROLLED_BACK if reason.startswith("rolled back") else UPDATE_FAILED), {"reason": reason}
    if status in ENDED:
        return UPDATE_FAILED, {"reason": reason or status.lower().replace("_", " ")}
    return None
