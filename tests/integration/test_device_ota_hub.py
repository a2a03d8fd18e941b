"""An update over the air through the self-hosted hub, end to end (docs/protocol.md, "Updates over the
air"): the real hub (its jobs service and HTTPS file server, cloud/hub/jobs.py), mosquitto over mutual TLS
with the household's ACL, and the whole firmware on MicroPython (otajob.py, otafetch.py). The release is
`make release`'s (tools/release.py, a key of the test's own).

The unix port runs no boot.py: the device's second life starts through `unix_boot`, which calls
otaboot.select as boot.py does on the board, before main_unix."""

import os
import subprocess
import threading
import time

import pytest

from cloud.hub import jobs
from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import Hub
from cloud.hub.processes import free_port
from cloud.topology import THING
from rigs.device import ACTION, Device, Observer, command, rig_config, wait_for
from tools import device as device_tool
from tools import release, release_key
from tools.faultproxy import FaultProxy
from tools.mqttc import MqttClient

VERSION = "1.5.0"
LARGE = "large.bin"
# boot.py's selector on the unix port: the board's call with a watchdog that cannot fire here.
UNIX_BOOT = ("import sys, bootonly; bootonly.call('otaboot', 'select', '.', sys.path, lambda timeout: None); "
             "import main_unix")


class BootingDevice(Device):
    """A Device whose lives begin with boot.py's selector (so a staged update runs at its next start)."""

    def start(self):
        self.proc = subprocess.Popen(
            [device_tool.MICROPYTHON, "-X", "heapsize=" + self.heapsize, "-c", UNIX_BOOT], cwd=self.flash,
            env=dict(os.environ, MICROPYPATH=device_tool.FLASH_PATH), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.lives += 1
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        return self


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("release-key"))
    release_key.ensure(directory)
    return directory


@pytest.fixture
def built(tmp_path, keys):
    """A signed release of this firmware as VERSION: (folder of releases, modulus hex)."""
    out = str(tmp_path / "release")
    release.build(VERSION, out=out, key_dir=keys, log=lambda *a: None)
    return out, release_key.modulus_hex(keys)


@pytest.fixture
def ota_hub(pki, broker, tmp_path):
    https_port = free_port()
    instance = Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port, https=("127.0.0.1", https_port))
    instance.start()
    instance.https_port = https_port
    yield instance
    instance.stop()


def ledger_details(hub, *kinds):
    db = ledger_mod.connect(hub.ledger_path, readonly=True)
    try:
        return [(event["detail-type"], event["detail"]) for _, event in ledger_mod.read(db)
                if event["detail-type"] in kinds]
    finally:
        db.close()


def update_events(hub):
    return [kind for kind, _ in ledger_details(hub, "UpdateOffered", "UpdateStarted", "UpdateSucceeded",
                                                "UpdateRolledBack", "UpdateFailed")]


def job_status(hub, job_id):
    store = jobs.JobStore(os.path.join(hub.data_dir, jobs.JOBS_FILE))
    try:
        return store.db.execute("SELECT status, details FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    finally:
        store.close()


def with_a_large_file(releases, keys, size=48 * 1024):
    """The release with one more file of `size` bytes (an asset; nothing imports it), signed again: a
    file long enough that the test sees it partly on flash and interrupts it there."""
    target = os.path.join(releases, VERSION)
    with open(os.path.join(target, LARGE), "wb") as f:
        f.write(os.urandom(size))
    os.remove(os.path.join(target, release.MANIFEST))
    os.remove(os.path.join(target, release.SIGNATURE))
    manifest = release.manifest_text(VERSION, False, target).encode()
    with open(os.path.join(target, release.MANIFEST), "wb") as f:
        f.write(manifest)
    with open(os.path.join(target, release.SIGNATURE), "wb") as f:
        f.write(release_key.sign(release_key.load(keys), manifest))


def partly_there(flash):
    """True when the large file is on the device's flash, its first bytes only."""
    path = os.path.join(flash, "ota", "a", LARGE)
    return os.path.exists(path) and 0 < os.path.getsize(path) < 16 * 1024


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
        assert device.expect("ota: %s: staged" % job["jobId"]).endswith("in slot a (0 resumed)")
        device.expect("ota: %s staged: restarting" % job["jobId"])
        device.proc.wait(10)  # SystemExit: the board soft-resets and boot.py switches
        device._reap()
        assert open(os.path.join(device.flash, "ota", "state")).read() == "- a 0 -\n"  # a trial, not begun

        device.start()
        assert device.expect("ota: ") == "ota: trying a, boot 1 of 3"
        assert device.expect("ota: ") == "ota: a confirmed: connected and subscribed"
        assert device.expect("ota: ") == "ota: %s: SUCCEEDED 1.5.0" % job["jobId"]
        wait_for(lambda: job_status(ota_hub, job["jobId"])[0] == "SUCCEEDED", 10, "SUCCEEDED on the hub")
        wait_for(lambda: update_events(ota_hub)[-1:] == ["UpdateSucceeded"], 10, "UpdateSucceeded")
        assert update_events(ota_hub) == ["UpdateOffered", "UpdateStarted", "UpdateSucceeded"]
        assert all(detail["version"] == VERSION and detail["job"] == job["jobId"]
                   for _, detail in ledger_details(ota_hub, "UpdateOffered", "UpdateSucceeded"))
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
        wait_for(lambda: update_events(ota_hub)[-1:] == ["UpdateFailed"], 10, "UpdateFailed")
        assert ledger_details(ota_hub, "UpdateFailed")[0][1]["reason"] == reason
        assert not os.path.exists(os.path.join(device.flash, "ota", "state"))  # no trial, no switch
        time.sleep(0.5)
        assert device.running()  # no restart
    finally:
        device.kill()


def test_a_command_mid_download_is_answered_and_the_download_resumes_after_an_interruption(
        tmp_path, pki, broker, ota_hub, built, keys):
    releases, modulus = built
    with_a_large_file(releases, keys)
    device = feeder(tmp_path, pki, broker, modulus).start()
    observer = Observer(pki, broker.port)
    proxy = FaultProxy(ota_hub.https_port).start()
    proxy.pace(1024, 0.01)  # ~100 KB/s: the large file takes about half a second
    try:
        device.wait_up()
        job = jobs.offer(ota_hub.data_dir, THING, VERSION, releases, "localhost", proxy.port)
        device.expect("ota: %s: downloading" % job["jobId"])
        wait_for(lambda: partly_there(device.flash), 10, "the large file partly on flash")
        proxy.stall()  # mid-file: the device's stream goes silent
        sent = time.monotonic()
        with_ota = device.proc  # the same life: no restart in between
        publisher = MqttClient(pki, broker.port, "publisher")
        publisher.publish(ACTION, command("mid-download-1"), qos=1)
        observer.collect(["mid-download-1"], 10)
        answered_s = time.monotonic() - sent
        assert [r["status"] for r in observer.by_id()["mid-download-1"]] == ["dispensed"]
        # The loop's longest poll (app.MAX_WAIT_MS): a download step blocks at most otafetch.TIMEOUT_MS.
        assert answered_s < 5
        assert not any("staged" in line for line in device.output())
        proxy.cut()  # the stalled connection is reset: the device resumes with Range from the bytes on flash
        proxy.resume()
        proxy.pace()
        staged = device.expect("ota: %s: staged" % job["jobId"], timeout_s=20)
        assert not staged.endswith("(0 resumed)"), device.output()[-30:]  # Range from the bytes on flash
        assert device.proc is with_ota
        publisher.close()
    finally:
        proxy.stop()
        observer.close()
        device.kill()
