"""otadoc.py: what an execution from the jobs topics asks of the device (docs/protocol.md, "Updates over
the air"): nothing, a download, a refusal, or the outcome of the update staged before the restart
(SUCCEEDED, rolled back, or nothing yet while the trial is pending). On CPython and MicroPython."""

import json
import os

import otaboot
import otadoc
from fwtest import remove_tree, tmpdir
from otarig import write

DOCUMENT = {"operation": "ota", "version": "1.5.0", "url": "https://hub.lan:8443/ota/1.5.0/", "files": []}
# AWS's: one pre-signed S3 object, the manifest and its signature placed by `bundle_files`.
BUNDLE = {"operation": "ota", "version": "1.5.0", "files": [],
          "bundle": "https://b.s3.eu-west-1.amazonaws.com/releases/1.5.0.bundle?X-Amz-Signature=ab&X-Amz-Expires=9",
          "bundle_files": {"manifest.txt": [0, 2700], "manifest.sig": [2700, 256]}}


def execution(status="QUEUED", job_id="job-1", document=None):
    return json.dumps({"timestamp": 1, "execution": {
        "jobId": job_id, "status": status, "versionNumber": 1,
        "jobDocument": DOCUMENT if document is None else document}}).encode()


def with_slot(root, slot, version):
    """A set in slot with its manifest (what otaboot reads the running version from)."""
    for path in (root + "/ota", otaboot.slot_dir(root, slot)):
        try:
            os.mkdir(path)
        except OSError:
            pass
    write(otaboot.slot_dir(root, slot) + "/manifest.txt",
          ("cat-feeder release 1\nversion %s\ndowngrade 0\n" % version).encode())


def test_a_new_job_starts_a_download_and_one_under_way_or_finished_is_left_alone():
    root = tmpdir()
    try:
        assert otadoc.consider(execution(), root, None, None) == (
            "start", "job-1", "1.5.0", DOCUMENT["url"], None)
        assert otadoc.consider(execution("IN_PROGRESS"), root, None, "job-1") is None  # under way
        assert otadoc.consider(execution(), root, "job-1", None) is None  # its outcome was found this boot
        assert otadoc.consider(execution("SUCCEEDED"), root, None, None) is None
        assert otadoc.consider(b'{"timestamp": 1}', root, None, None) is None  # nothing pending
        assert otadoc.consider(b"not json", root, None, None) is None
        for job_id in (7, "", "a/b", "+", "x" * 65):  # not a topic level AWS IoT would name
            assert otadoc.consider(execution(job_id=job_id), root, None, None) is None
    finally:
        remove_tree(root)


def test_a_bundle_starts_a_download_of_the_one_object_with_the_manifest_and_signature_placed():
    root = tmpdir()
    try:
        assert otadoc.consider(execution(document=BUNDLE), root, None, None) == (
            "start", "job-1", "1.5.0", BUNDLE["bundle"], ((0, 2700), (2700, 256)))
    finally:
        remove_tree(root)


def test_a_bundle_document_that_is_not_https_or_places_nothing_usable_is_refused_with_a_reason():
    root = tmpdir()
    placed = BUNDLE["bundle_files"]
    try:
        for document in (dict(BUNDLE, bundle="http://b.s3.amazonaws.com/r.bundle?X-Amz-Signature=ab"),
                         dict(BUNDLE, bundle="https://b.s3.amazonaws.com"), dict(BUNDLE, bundle=7),
                         dict(BUNDLE, bundle_files=None), dict(BUNDLE, bundle_files=[[0, 2700], [2700, 256]]),
                         dict(BUNDLE, bundle_files={"manifest.txt": [0, 2700]}),
                         dict(BUNDLE, bundle_files=dict(placed, **{"manifest.sig": [-1, 256]})),
                         dict(BUNDLE, bundle_files=dict(placed, **{"manifest.sig": [2700, 0]})),
                         dict(BUNDLE, bundle_files=dict(placed, **{"manifest.sig": [2700, 16385]})),
                         dict(BUNDLE, bundle_files=dict(placed, **{"manifest.sig": [2700, True]})),
                         dict(BUNDLE, bundle_files=dict(placed, **{"manifest.sig": [2700]})),
                         dict(DOCUMENT, url=None)):
            assert otadoc.consider(execution(document=document), root, None, None) == (
                "refuse", "job-1", "FAILED", {"reason": "not an ota job of this firmware"}), document
    finally:
        remove_tree(root)


def test_a_job_this_firmware_cannot_do_is_refused_with_a_reason():
    root = tmpdir()
    try:
        for document in ({"operation": "reboot"}, {"operation": "ota", "version": "1.5.0"}, "text",
                         dict(DOCUMENT, version="1.5 .0"), dict(DOCUMENT, version=150),
                         dict(DOCUMENT, url="http://hub.lan/ota/1.5.0/"), dict(DOCUMENT, url="https://h/a.mpy")):
            assert otadoc.consider(execution(document=document), root, None, None) == (
                "refuse", "job-1", "FAILED", {"reason": "not an ota job of this firmware"})
    finally:
        remove_tree(root)


def test_the_staged_update_is_reported_once_the_restart_switched_or_returned():
    root = tmpdir()
    try:
        with_slot(root, "a", "1.5.0")
        otadoc.stage(root, "job-1", "1.5.0")
        otaboot.schedule(root, "a")  # staged, not restarted yet: no outcome
        assert otadoc.consider(execution("IN_PROGRESS"), root, None, None) is None
        otaboot.confirm(root)  # the trial reached its broker
        assert otadoc.consider(execution("IN_PROGRESS"), root, None, None) == (
            "outcome", "job-1", "SUCCEEDED", {"version": "1.5.0"})
        otaboot.write_state(root, ["-", "-", 0, "a"])  # rolled back to the base set instead
        assert otadoc.consider(execution("IN_PROGRESS"), root, None, None) == (
            "outcome", "job-1", "FAILED", {"reason": "rolled back: running 0.0.0"})
        assert otadoc.consider(execution("IN_PROGRESS", "job-2"), root, None, None)[0] == "start"
        otadoc.forget(root)
        otadoc.forget(root)  # twice: nothing to remove is fine
        assert otadoc.consider(execution("IN_PROGRESS"), root, None, None)[0] == "start"
    finally:
        remove_tree(root)
