"""An update from one bundle object, as on AWS (docs/protocol.md, "Updates over the air", `bundle`): the
whole firmware on MicroPython gets the job from the hub's jobs service (the same device MQTT API as AWS IoT
Jobs) with a document whose `bundle` is a pre-signed-style HTTPS URL of ONE object (cloud/aws/ota.py builds
the object and the document), served by an S3 stand-in (rigs.ota.BundleServer) that honours Range and
answers 403 to any other path or query string. The download is cut mid-file once and resumes by Range
from the bytes on flash; the release is verified, switched at the restart and confirmed. The files come over
one kept connection, and a connection the server closes between two files (saying so, or not) is replaced
at once, not counted as an interruption. A document that is not a bundle the firmware can fetch is refused
with its line."""

import os

import pytest

from cloud.aws import ota
from cloud.hub import jobs
from cloud.topology import THING
from rigs.device import BootingDevice, rig_config, wait_for
from rigs.ota import VERSION, BundleServer, build_release, job_status, start_hub, update_events

PATH = "/ota/ota-1_5_0-1.bundle"
# What a pre-signed GET carries (SigV4 query parameters, with characters a URL escapes): kept in the request.
QUERY = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261205%2Feu-west-1%2Fs3%2F"
         "aws4_request&X-Amz-Date=20261205T120000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host"
         "&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")


@pytest.fixture
def ota_hub(pki, broker, tmp_path):
    instance = start_hub(str(tmp_path / "hub"), pki, broker.port)
    yield instance
    instance.stop()


def queue(hub, job_id, document):
    """The job on the hub's jobs service, which notifies the thing (as CreateJob does on AWS)."""
    store = jobs.JobStore(os.path.join(hub.data_dir, jobs.JOBS_FILE))
    try:
        store.queue(THING, job_id, document)
    finally:
        store.close()


def largest_file_middle(folder, places):
    """The bundle offset of the middle of the release's largest file (placed by the signed manifest)."""
    offset, best = sum(places["manifest.sig"]), (0, 0)
    for _, size in ota.manifest_files(folder):
        best = max(best, (size, offset + size // 2))
        offset += size
    return best[1]


def test_an_update_from_one_bundle_object_resumes_by_range_after_a_cut_and_is_switched_and_confirmed(
        tmp_path, pki, broker, ota_hub):
    releases, modulus = build_release(str(tmp_path / "release"), str(tmp_path / "keys"))
    folder = os.path.join(releases, VERSION)
    body, places, names = ota.bundle(folder)
    s3 = BundleServer(pki, body, PATH, QUERY).start()
    s3.cut_at(largest_file_middle(folder, places))
    device = BootingDevice(tmp_path / "flash", pki, rig_config(broker.port, ota={"release_key": modulus}))
    device.start()
    try:
        device.wait_up()
        queue(ota_hub, "ota-1_5_0-1", ota.job_document(VERSION, s3.url, places, names))
        device.expect("ota: ota-1_5_0-1: downloading 1.5.0")
        assert device.expect("ota: ota-1_5_0-1: staged", timeout_s=30).endswith(
            "in slot a (1 resumed, connections: 2)")
        assert s3.connections == 2  # one kept connection, and the one after the cut
        # Every request named the one object with its query string; each asked a range of it, the one after
        # the cut from where the flash left off.
        assert {path for path, _ in s3.requests} == {PATH + "?" + QUERY}
        ranges = [tuple(int(n) for n in wanted[6:].split("-")) for _, wanted in s3.requests]
        assert ranges[:2] == [(offset, offset + size - 1) for offset, size in
                              (places["manifest.txt"], places["manifest.sig"])]
        cut = [i for i in range(1, len(ranges)) if ranges[i][1] == ranges[i - 1][1]]
        assert len(cut) == 1  # the same file's end asked twice: once, then from the cut
        before, after = ranges[cut[0] - 1], ranges[cut[0]]
        assert before[0] < after[0] <= largest_file_middle(folder, places)
        assert ranges[-1][1] == len(body) - 1 and len(ranges) == len(names) + 1
        for flashed in names:
            with open(os.path.join(device.flash, "ota", "a", flashed), "rb") as f, \
                    open(os.path.join(folder, flashed), "rb") as g:
                assert f.read() == g.read(), flashed
        device.expect("ota: ota-1_5_0-1 staged: restarting")
        device.proc.wait(10)
        device.restarted()
        assert device.expect("ota: ") == "ota: trying a, boot 1 of 3"
        assert device.expect("ota: ") == "ota: a confirmed: connected and subscribed"
        assert device.expect("ota: ") == "ota: ota-1_5_0-1: SUCCEEDED 1.5.0"
        wait_for(lambda: job_status(ota_hub, "ota-1_5_0-1")[0] == "SUCCEEDED", 10, "SUCCEEDED on the hub")
    finally:
        device.kill()
        s3.stop()


@pytest.mark.parametrize("announced", [True, False], ids=["connection-close", "idle-close"])
def test_a_connection_the_server_closes_between_two_files_is_replaced_and_the_download_completes(
        tmp_path, pki, broker, ota_hub, announced):
    releases, modulus = build_release(str(tmp_path / "release"), str(tmp_path / "keys"))
    folder = os.path.join(releases, VERSION)
    body, places, names = ota.bundle(folder)
    s3 = BundleServer(pki, body, PATH, QUERY).start()
    s3.close_after(5, announced)  # a file of the manifest's, after the manifest judged
    device = BootingDevice(tmp_path / "flash", pki, rig_config(broker.port, ota={"release_key": modulus}))
    device.start()
    try:
        device.wait_up()
        queue(ota_hub, "ota-1_5_0-1", ota.job_document(VERSION, s3.url, places, names))
        staged = device.expect("ota: ota-1_5_0-1: staged", timeout_s=30)
        assert staged.endswith("in slot a (0 resumed, connections: 2)"), device.output()[-20:]
        assert s3.connections == 2 and len(s3.requests) == len(names)  # each file asked once
        for flashed in names:
            with open(os.path.join(device.flash, "ota", "a", flashed), "rb") as f, \
                    open(os.path.join(folder, flashed), "rb") as g:
                assert f.read() == g.read(), flashed
    finally:
        device.kill()
        s3.stop()


@pytest.mark.parametrize("document", [
    {"operation": "ota", "version": VERSION, "files": []},  # neither url nor bundle
    {"operation": "ota", "version": VERSION, "bundle": "http://localhost/ota/x.bundle?X-Amz-Signature=1",
     "bundle_files": {"manifest.txt": [0, 100], "manifest.sig": [100, 256]}},  # not https
    {"operation": "ota", "version": VERSION, "bundle": "https://localhost/ota/x.bundle?X-Amz-Signature=1"},
], ids=["neither", "bundle-not-https", "bundle-without-places"])
def test_a_job_document_without_a_usable_url_or_bundle_is_refused_with_its_line(
        tmp_path, pki, broker, ota_hub, document):
    device = BootingDevice(tmp_path / "flash", pki, rig_config(broker.port, ota={"release_key": "ab" * 256}))
    device.start()
    try:
        device.wait_up()
        queue(ota_hub, "ota-bad-1", document)
        assert device.expect("ota: ota-bad-1: ") == "ota: ota-bad-1: FAILED not an ota job of this firmware"
        wait_for(lambda: job_status(ota_hub, "ota-bad-1")[0] == "FAILED", 10, "FAILED on the hub")
        wait_for(lambda: [kind for kind, _ in update_events(ota_hub)] == ["UpdateFailed"], 10, "UpdateFailed")
        assert update_events(ota_hub)[0][1]["reason"] == "not an ota job of this firmware"
        assert not os.path.exists(os.path.join(device.flash, "ota"))  # nothing staged, nothing written
    finally:
        device.kill()
