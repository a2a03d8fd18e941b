"""Shared helpers for updates over the air through the hub (tests/integration/test_device_ota_hub*.py,
bench/ota_hub.py): a signed release of this firmware, a hub serving releases over HTTPS, and what the hub
recorded (cloud/hub/jobs.py)."""

import os

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
