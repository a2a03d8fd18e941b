"""Updates over the air on AWS (moto's server, the strict layer on; docs/protocol.md, "Updates over the
air"; cloud/aws/ota.py): `make deploy` creates the private releases bucket; `make ota VIA=aws` uploads the
release as one bundle object, creates the IoT Job for the thing with the bundle's pre-signed URL in a
document within CreateJob's and the device's limits, and puts UpdateOffered on the bus; the job execution
events' topic rule and the states function record the outcome as the hub does."""

import json
import os

import boto3
import pytest
from botocore.stub import Stubber

from cloud.aws import deploy, ota
from cloud.handlers import states
from cloud.hub import jobs as hub_jobs
from cloud.topology import TOPOLOGY, local_environment
from rigs.ota import VERSION, build_release
from tests.cloud.envs import ACCOUNT, REGION, env_for, run
from tests.strict_aws.iot import rule_output

BUCKET = "feedmyfurbabies-releases-%s-%s" % (ACCOUNT, REGION)


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """`make release VERSION=1.5.0` of this firmware, with a key of the module's own."""
    return build_release(str(tmp_path_factory.mktemp("release")), str(tmp_path_factory.mktemp("key")))[0]


@pytest.fixture
def deployed(aws, tmp_path):
    env = env_for(aws, tmp_path)
    run(deploy.apply, env)
    env.__dict__["events"] = RecordedEvents(env.events)
    return env


def client(aws, service):
    return boto3.client(service, endpoint_url=aws, region_name=REGION)


class RecordedEvents:
    """The deployer's events client, but PutEvents keeps each entry (moto's bus would invoke the deployed
    functions' targets, which it cannot run)."""

    def __init__(self, client):
        self.client, self.entries = client, []

    def __getattr__(self, name):
        return getattr(self.client, name)

    def put_events(self, Entries):  # noqa: N803 (boto3's parameter name)
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


def test_deploy_creates_the_releases_bucket_private_with_every_public_access_blocked(deployed, aws):
    s3 = client(aws, "s3")
    assert BUCKET in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}
    assert run(deploy.plan, deployed)[-1].startswith("Nothing to change")


def test_destroy_empties_and_deletes_the_bucket(deployed, aws, releases):
    ota.offer(deployed, "cat-feeder", VERSION, releases)
    run(deploy.destroy, deployed)
    assert BUCKET not in [bucket["Name"] for bucket in client(aws, "s3").list_buckets()["Buckets"]]


def test_make_ota_creates_the_job_with_the_bundle_and_the_s3_object_and_offers_it_in_the_ledger(
        deployed, aws, releases):
    document = ota.offer(deployed, "cat-feeder", VERSION, releases, clock=lambda: 1796472000.5)
    job_id = document.pop("jobId")
    assert job_id == "ota-1_5_0-1796472000500"
    iot = client(aws, "iot")
    job = iot.describe_job(jobId=job_id)["job"]
    assert job["targets"] == ["arn:aws:iot:%s:%s:thing/cat-feeder" % (REGION, ACCOUNT)]
    text = iot.get_job_document(jobId=job_id)["document"]
    assert json.loads(text) == document
    # CreateJob's document limit (API_CreateJob.html: 32768), and the device's own, tighter: the execution
    # around it must fit the device's 4096-byte MQTT message (firmware/link.py).
    assert len(text.encode()) <= ota.MAX_DEVICE_DOCUMENT < 32768
    assert set(document) == {"operation", "version", "bundle", "bundle_files", "files"}
    assert document["operation"] == "ota" and document["version"] == VERSION
    key = "ota/%s.bundle" % job_id
    assert document["bundle"].startswith("%s/%s/%s?" % (aws, BUCKET, key))  # moto: path style
    assert "X-Amz-Signature=" in document["bundle"] and "X-Amz-Expires=604800" in document["bundle"]
    body = client(aws, "s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    folder = os.path.join(releases, VERSION)

    def content(name):
        with open(os.path.join(folder, name), "rb") as f:
            return f.read()

    # The layout the device reads: manifest and signature where bundle_files says, then the manifest's
    # files in its order, back to back, to the object's last byte.
    for name in ("manifest.txt", "manifest.sig"):
        offset, size = document["bundle_files"][name]
        assert body[offset:offset + size] == content(name)
    offset = sum(document["bundle_files"]["manifest.sig"])
    names = [line.split()[3] for line in content("manifest.txt").decode().splitlines()
             if line.startswith("file ")]
    for name in names:
        assert body[offset:offset + len(content(name))] == content(name), name
        offset += len(content(name))
    assert offset == len(body) and document["files"] == ["manifest.txt", "manifest.sig"] + names
    (event,) = deployed.events.entries
    assert (event["Source"], event["DetailType"], event["EventBusName"]) == (
        "com.feedmyfurbabies", "UpdateOffered", TOPOLOGY["bus"]["name"])
    assert json.loads(event["Detail"]) == {"thing": "cat-feeder", "job": job_id, "version": VERSION,
                                           "size": len(body)}


def test_a_second_update_while_one_is_pending_is_refused(deployed, releases):
    first = ota.offer(deployed, "cat-feeder", VERSION, releases, clock=lambda: 1)
    with pytest.raises(ota.OtaError, match="cat-feeder already has a pending update, %s" % first["jobId"]):
        ota.offer(deployed, "cat-feeder", VERSION, releases, clock=lambda: 2)


def test_the_url_expiry_is_bounded_by_sigv4s_7_days_and_a_missing_release_is_named(deployed, releases):
    with pytest.raises(ota.OtaError, match="60 s to 604800 s"):
        ota.offer(deployed, "cat-feeder", VERSION, releases, expires_s=604801)
    with pytest.raises(ota.OtaError, match="no release 9.9.9 .*make release VERSION=9.9.9 first"):
        ota.offer(deployed, "cat-feeder", "9.9.9", releases)


def test_a_document_over_the_devices_room_or_a_bad_job_id_is_refused_before_any_call():
    with pytest.raises(ota.OtaError, match="more than the 3584 the device's 4 KB message leaves it"):
        ota.check_job("ota-1", "x" * 3585)
    with pytest.raises(ota.OtaError, match="CreateJob takes 32768"):
        ota.check_job("ota-1", "x" * 32769)
    for bad in ("", "a" * 65, "ota.1", "ota/1"):
        with pytest.raises(ota.OtaError, match="CreateJob takes 1-64 characters"):
            ota.check_job(bad, "{}")
    ota.check_job("a" * 64, "x" * 3584)


def job_execution_event(job_id, status, details=None):
    """IoT Jobs' job execution event as https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html
    shows it."""
    event = {"eventType": "JOB_EXECUTION", "eventId": "1", "timestamp": 1796472100,
             "operation": status.lower(), "jobId": job_id, "status": status,
             "thingArn": "arn:aws:iot:%s:%s:thing/cat-feeder" % (REGION, ACCOUNT)}
    if details is not None:
        event["statusDetails"] = details
    return event


@pytest.mark.parametrize("status, details, kind, extra", [
    ("SUCCEEDED", {"version": VERSION}, "UpdateSucceeded", {}),
    ("FAILED", {"reason": "rolled back: running 1.4.0"}, "UpdateRolledBack",
     {"reason": "rolled back: running 1.4.0"}),
    ("FAILED", {"reason": "bad signature"}, "UpdateFailed", {"reason": "bad signature"}),
    ("TIMED_OUT", None, "UpdateFailed", {"reason": "timed out"}),
])
def test_a_job_execution_event_becomes_the_update_outcome_the_hub_records(
        deployed, aws, status, details, kind, extra):
    rule = client(aws, "iot").get_topic_rule(ruleName="cat_feeder_job_outcomes")["rule"]
    assert rule["actions"][0]["lambda"]["functionArn"].endswith(":function:feedmyfurbabies-states")
    job_id = "ota-1_5_0-1796472000500"
    topic = "$aws/events/jobExecution/%s/%s" % (job_id, status.lower())
    delivered = rule_output(rule["sql"], topic, job_execution_event(job_id, status, details))
    events = RecordedEvents(None)
    context = states.Context(events, local_environment("states"), log=lambda line: None)
    assert states.handle(delivered, context) == {"status": "put", "detail_type": kind, "thing": "cat-feeder"}
    (entry,) = events.entries
    assert (entry["Source"], entry["DetailType"]) == ("com.feedmyfurbabies", kind)
    detail = dict({"thing": "cat-feeder", "job": job_id, "version": VERSION}, **extra)
    assert json.loads(entry["Detail"]) == detail
    # The hub's jobs service maps them the same (one mapping: cloud/handlers/updates.py).
    assert jobs_events(status, details) == [(kind, detail)]


def jobs_events(status, details):
    """What the hub's jobs service records for the device's report of `status` on an update's job."""
    recorded = []

    class Ledger:
        def append_batch(self, batch):
            recorded.extend((event["detail-type"], event["detail"]) for event, _ in batch)

    service = object.__new__(hub_jobs.JobService)
    service.ledger, service.on_commit = Ledger(), lambda: None
    document = {"jobId": "ota-1_5_0-1796472000500", "version": VERSION}
    service._record("cat-feeder", document, "IN_PROGRESS", status, details or {})
    return recorded


def test_a_job_execution_event_of_another_job_or_thing_is_ignored(deployed, aws):
    sql = client(aws, "iot").get_topic_rule(ruleName="cat_feeder_job_outcomes")["rule"]["sql"]
    events = RecordedEvents(None)
    context = states.Context(events, local_environment("states"), log=lambda line: None)
    group = "arn:aws:iot:eu-west-1:1:thinggroup/x"
    for job_id, arn in (("firmware-campaign-7", None), ("ota-1_5_0-1", group)):
        event = job_execution_event(job_id, "SUCCEEDED")
        if arn:
            event["thingArn"] = arn
        delivered = rule_output(sql, "$aws/events/jobExecution/%s/succeeded" % job_id, event)
        assert states.handle(delivered, context) == {"status": "ignored"}
    assert events.entries == []


def test_make_ota_turns_on_job_execution_events_once():
    iot = boto3.client("iot", region_name=REGION, aws_access_key_id="stub", aws_secret_access_key="stub")
    with Stubber(iot) as stub:  # moto has no event configurations
        stub.add_response("describe_event_configurations", {"eventConfigurations": {
            "JOB_EXECUTION": {"Enabled": False}, "THING": {"Enabled": True}}})
        stub.add_response("update_event_configurations", {},
                          {"eventConfigurations": {"JOB_EXECUTION": {"Enabled": True}}})
        stub.add_response("describe_event_configurations", {"eventConfigurations": {
            "JOB_EXECUTION": {"Enabled": True}}})
        assert ota.ensure_job_execution_events(iot) is True
        assert ota.ensure_job_execution_events(iot) is False
        stub.assert_no_pending_responses()


def test_a_device_cannot_pass_its_states_message_off_as_a_job_execution_event(deployed, aws):
    """The states rule hands the same function a device's own payload: one shaped like the job rule's
    output, published on feeder B's states topic, must not record an update outcome for cat-feeder."""
    sql = client(aws, "iot").get_topic_rule(ruleName="cat_feeder_states")["rule"]["sql"]
    job_id = "ota-1_5_0-1796472000500"
    arn = job_execution_event(job_id, "SUCCEEDED")["thingArn"]  # cat-feeder's
    forged = {"v": 1, "type": "job", "job": job_id, "thing_arn": arn, "status": "SUCCEEDED",
              "details": {"version": VERSION}, "at": 1796472000}
    delivered = rule_output(sql, "cat-feeder/kitchen/states", forged)
    events = RecordedEvents(None)
    context = states.Context(events, local_environment("states"), log=lambda line: None)
    assert states.handle(delivered, context)["status"] == "rejected"
    assert events.entries == []
