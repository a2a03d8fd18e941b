"""An update over the air through the self-hosted hub, end to end (docs/protocol.md, "Updates over the
air"): the real hub (its jobs service and HTTPS file server, cloud/hub/jobs.py), mosquitto over mutual TLS
with the household's ACL, and the whole firmware on MicroPython (otajob.py, otadoc.py, otafetch.py). The
release is `make release`'s (tools/release.py, a key of the test's own). Interruptions and a command
during the download: test_device_ota_resume.py.

The unix port runs no boot.py: every life of the device starts through rigs.device.BootingDevice, which
calls otaboot.select as boot.py does on the board, before main_unix."""

import os
import time

import pytest

from cloud.hub import jobs
from cloud.topology import THING
from rigs.device import BootingDevice, rig_config, wait_for
from rigs.ota import VERSION, build_release, job_status, update_events


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return str(tmp_path_factory.mktemp("release-key"))


@pytest.fixture
def built(tmp_path, keys):
    """A signed release of this firmware as VERSION: (folder of releases, modulus hex)."""
    return build_release(str(tmp_path / "release"), keys)


def kinds(hub):
    return [kind for kind, _ in update_events(hub)]


def feeder(tmp_path, pki, broker, modulus):
    return BootingDevice(tmp_path / "flash", pki, rig_config(broker.port, ota={"release_key": modulus}))


def test_an_update_is_offered_downloaded_verified_switched_at_reboot_confirmed_and_in_the_ledger(
        tmp_path, pki, broker, ota_hub, built):
    releases, modulus = built
    device = feeder(tmp_path, pki, broker, modulus).start()
    try:
        device.wait_up()
        job = jobs.offer(ota_hub.data_dir, THING, VERSION, releases, "localhost", ota_hub.https_port)
        assert device.expect("ota: %s: downloading" % job["jobId"]).endswith("downloading 1.5.0")
        assert device.expect("ota: %s: staged" % job["jobId"]).endswith(
            "in slot a (0 resumed, connections: 1)")
        assert ota_hub.files.connections == 1  # every file over one kept HTTPS connection
        device.expect("ota: %s staged: restarting" % job["jobId"])
        device.proc.wait(10)  # SystemExit: the board soft-resets and boot.py switches
        assert open(os.path.join(device.flash, "ota", "state")).read() == "- a 0 -\n"  # a trial, not begun
        device.restarted()
        assert device.expect("ota: ") == "ota: trying a, boot 1 of 3"
        assert device.expect("ota: ") == "ota: a confirmed: connected and subscribed"
        assert device.expect("ota: ") == "ota: %s: SUCCEEDED 1.5.0" % job["jobId"]
        wait_for(lambda: job_status(ota_hub, job["jobId"])[0] == "SUCCEEDED", 10, "SUCCEEDED on the hub")
        wait_for(lambda: kinds(ota_hub)[-1:] == ["UpdateSucceeded"], 10, "UpdateSucceeded")
        assert kinds(ota_hub) == ["UpdateOffered", "UpdateStarted", "UpdateSucceeded"]
        assert all(detail["version"] == VERSION and detail["job"] == job["jobId"]
                   for _, detail in update_events(ota_hub))
        assert open(os.path.join(device.flash, "ota", "state")).read() == "a - 0 -\n"
        assert not os.path.exists(os.path.join(device.flash, "ota", "job"))  # the outcome is out
    finally:
        device.kill()


@pytest.mark.parametrize("damage, reason", [
    ("manifest.sig", "bad signature"),
    ("app.mpy", "hash mismatch: app.mpy"),
])
def test_a_release_with_a_bad_signature_or_a_wrong_hash_is_refused_with_the_reason_and_nothing_changes(
        tmp_path, pki, broker, ota_hub, built, damage, reason):
    releases, modulus = built
    path = os.path.join(releases, VERSION, damage)
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 1]))
    device = feeder(tmp_path, pki, broker, modulus).start()
    try:
        device.wait_up()
        job = jobs.offer(ota_hub.data_dir, THING, VERSION, releases, "localhost", ota_hub.https_port)
        assert device.expect("ota: %s: FAILED" % job["jobId"]).endswith("FAILED " + reason)
        wait_for(lambda: job_status(ota_hub, job["jobId"])[0] == "FAILED", 10, "the job FAILED on the hub")
        assert reason in job_status(ota_hub, job["jobId"])[1]
        wait_for(lambda: kinds(ota_hub)[-1:] == ["UpdateFailed"], 10, "UpdateFailed")
        assert update_events(ota_hub)[-1][1]["reason"] == reason
        assert not os.path.exists(os.path.join(device.flash, "ota", "state"))  # no trial, no switch
        time.sleep(0.5)
        assert device.running()  # no restart
    finally:
        device.kill()
