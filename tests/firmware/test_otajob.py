"""otajob.py: a job the device refuses is reported FAILED with a reason of at most 256 characters,
whatever text the job document put into the error (AWS IoT refuses an UpdateJobExecution whose
statusDetails value is over 1,024 characters, and the job would then stay QUEUED for ever).
On CPython and MicroPython."""

import json

from fwtest import remove_tree, tmpdir
from hal_sim import HAL
from otajob import Jobs

NEXT = b"$aws/things/cat-feeder/jobs/$next/get/accepted"


def test_a_job_whose_url_fills_the_error_is_failed_with_a_reason_of_at_most_256_characters():
    root = tmpdir()
    try:
        logged = []
        jobs = Jobs("cat-feeder", {"ca": "ca.der", "cert": "c.der", "key": "k.der"}, None, HAL(),
                    logged.append, root=root)
        url = "https://hub.lan:" + "x" * 3000 + "/ota/1.5.0/"  # a port that is no number, 3 KB of it
        document = {"operation": "ota", "version": "1.5.0", "url": url}
        jobs.on_message(NEXT, json.dumps({"execution": {"jobId": "job-1", "status": "QUEUED",
                                                        "jobDocument": document}}).encode())
        job_id, request = jobs.report
        sent = json.loads(request)
        assert job_id == "job-1" and sent["status"] == "FAILED"
        reason = sent["statusDetails"]["reason"]
        assert reason.startswith("ValueError(") and len(reason) <= 256
        assert len(logged) == 1 and len(logged[0]) < 300
    finally:
        remove_tree(root)
