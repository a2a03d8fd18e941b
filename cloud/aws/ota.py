"""Updates over the air on AWS (docs/protocol.md, "Updates over the air"; `make ota VIA=aws`):

    python -m cloud.aws.ota [THING] VERSION [--releases build/release] [--expires-s 604800] [--household F]
                            [--region R] [--profile P] [--endpoint-url URL]

Uploads the release `make release` built as one S3 object, the **bundle** (manifest.txt, manifest.sig,
then the manifest's files in its order, back to back), to the releases bucket `make deploy` creates
(cloud/aws/resources/s3.py), pre-signs a GET of it, creates an IoT Job for the thing whose document carries
that URL as `bundle` with `bundle_files` placing the manifest and its signature, and puts UpdateOffered on
the bus (the ledger). The device fetches each file by Range on that one URL (firmware/otafetch.py). The
command also turns on IoT Jobs' job execution events (`ensure_job_execution_events`), which the topic rule
`cat_feeder_job_outcomes` hands to the states function: the ledger's UpdateSucceeded, UpdateRolledBack and
UpdateFailed, mapped as on the hub (cloud/handlers/updates.py).

AWS's rules, checked here before any call (moto does not check them): CreateJob's `jobId` is 1-64 of
[a-zA-Z0-9_-] and its `document` at most 32768 characters
(https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html); a pre-signed URL (SigV4) lives at
most 7 days (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html). The
device's own limit is tighter: the execution that carries the document reaches it in one MQTT message of
at most 4096 bytes (firmware/link.py), so the document must leave room for the execution's other fields.
"""

import argparse
import json
import os
import re
import sys
import time

from cloud import household
from cloud.aws import session
from cloud.topology import SOURCE, UPDATE_OFFERED, ota_job_id, update_detail

MANIFEST, SIGNATURE = "manifest.txt", "manifest.sig"
VERSION = re.compile(r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}")
JOB_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # CreateJob's jobId
MAX_JOB_DOCUMENT = 32768  # CreateJob's document
MAX_DEVICE_MESSAGE = 4096  # the device's largest MQTT message (firmware/link.py max_body)
EXECUTION_ROOM = 512  # the execution's other fields around the document: jobId, a 128-character thingName...
MAX_DEVICE_DOCUMENT = MAX_DEVICE_MESSAGE - EXECUTION_ROOM
MAX_EXPIRES_S = 7 * 24 * 3600  # SigV4's longest pre-signed URL
DEFAULT_EXPIRES_S = MAX_EXPIRES_S
PENDING = ("QUEUED", "IN_PROGRESS")


class OtaError(Exception):
    """A failure the user can fix; one line."""


def manifest_files(directory):
    """[(name, size)] of the manifest's `file` lines, in its order (firmware/otaverify.py's format)."""
    found = []
    with open(os.path.join(directory, MANIFEST)) as f:
        for line in f:
            words = line.split()
            if words and words[0] == "file" and len(words) == 4:
                found.append((words[3], int(words[1])))
    return found


def bundle(directory):
    """(the bundle's bytes, `bundle_files`, the release's file names) of a release folder: manifest.txt,
    manifest.sig, then each file of the manifest in its order, back to back. The device places the first
    two by `bundle_files` and the rest by the signed manifest's sizes, so only those are in the document."""
    parts, places, offset = [], {}, 0
    for name in (MANIFEST, SIGNATURE):
        with open(os.path.join(directory, name), "rb") as f:
            parts.append(f.read())
        places[name] = [offset, len(parts[-1])]
        offset += len(parts[-1])
    files = manifest_files(directory)
    for name, size in files:
        with open(os.path.join(directory, name), "rb") as f:
            content = f.read()
        if len(content) != size:
            raise OtaError("%s in %s is %d bytes, its manifest says %d: build the release again"
                           % (name, directory, len(content), size))
        parts.append(content)
    return b"".join(parts), places, [MANIFEST, SIGNATURE] + [name for name, _ in files]


def job_document(version, url, places, names):
    """The job document of a bundle (docs/protocol.md, "Updates over the air")."""
    return {"operation": "ota", "version": version, "bundle": url, "bundle_files": places, "files": names}


def check_job(job_id, text):
    """OtaError unless CreateJob and the device take this jobId and document text."""
    if not JOB_ID.fullmatch(job_id):
        raise OtaError("jobId %r: CreateJob takes 1-64 characters of [a-zA-Z0-9_-]" % job_id)
    if len(text) > MAX_JOB_DOCUMENT:
        raise OtaError("the job document is %d characters, CreateJob takes %d"
                       % (len(text), MAX_JOB_DOCUMENT))
    if len(text.encode()) > MAX_DEVICE_DOCUMENT:
        raise OtaError("the job document is %d bytes, more than the %d the device's 4 KB message leaves it"
                       " (a long pre-signed URL: temporary credentials add their session token)"
                       % (len(text.encode()), MAX_DEVICE_DOCUMENT))


def presigning_client(aws):
    """An S3 client whose pre-signed URLs name the bucket's regional virtual host
    (https://<bucket>.s3.<region>.amazonaws.com/...: the device follows no redirect, and S3's wildcard
    certificate covers a bucket name without dots), or moto's endpoint in tests."""
    from botocore.config import Config

    style = "path" if aws.endpoint_url else "virtual"
    config = Config(signature_version="s3v4", s3={"addressing_style": style})
    endpoint = aws.endpoint_url or "https://s3.%s.amazonaws.com" % aws.region
    return aws.session.client("s3", endpoint_url=endpoint, config=config)


def ensure_job_execution_events(iot):
    """Turn on IoT Jobs' job execution events, account-wide (UpdateEventConfigurations,
    https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html), if they are off: the topic
    rule `cat_feeder_job_outcomes` turns them into the ledger's update outcomes. True: it turned them on."""
    found = iot.describe_event_configurations()["eventConfigurations"]
    if found.get("JOB_EXECUTION", {}).get("Enabled"):
        return False
    iot.update_event_configurations(eventConfigurations={"JOB_EXECUTION": {"Enabled": True}})
    return True


def offer(env, thing, version, release_root, expires_s=DEFAULT_EXPIRES_S, clock=time.time):
    """Offer `version` (built in release_root/<version>/) to `thing` on AWS (env: cloud.aws.deploy.DeployEnv);
    returns the job document with its jobId."""
    if not VERSION.fullmatch(version):
        raise OtaError("VERSION=%s: expected MAJOR.MINOR.PATCH" % version)
    if not 60 <= expires_s <= MAX_EXPIRES_S:
        raise OtaError("--expires-s %d: a pre-signed URL lives 60 s to %d s (7 days)"
                       % (expires_s, MAX_EXPIRES_S))
    source = os.path.join(release_root, version)
    if not os.path.exists(os.path.join(source, SIGNATURE)):
        raise OtaError("no release %s in %s: make release VERSION=%s first"
                       % (version, release_root, version))
    content, places, names = bundle(source)
    thing_arn = env.iot.describe_thing(thingName=thing)["thingArn"]
    for status in PENDING:
        pending = env.iot.list_job_executions_for_thing(thingName=thing, status=status)["executionSummaries"]
        if pending:
            raise OtaError("%s already has a pending update, %s (%s)" % (thing, pending[0]["jobId"], status))
    job_id = ota_job_id(version, clock())
    key = "ota/%s.bundle" % job_id
    env.s3.put_object(Bucket=env.releases_bucket, Key=key, Body=content,
                      ContentType="application/octet-stream")
    url = presigning_client(env.aws).generate_presigned_url(
        "get_object", Params={"Bucket": env.releases_bucket, "Key": key}, ExpiresIn=expires_s)
    document = job_document(version, url, places, names)
    text = json.dumps(document, separators=(",", ":"))
    check_job(job_id, text)
    env.iot.create_job(jobId=job_id, targets=[thing_arn], document=text, targetSelection="SNAPSHOT",
                       description="cat feeder firmware %s for %s" % (version, thing))
    detail = update_detail(thing, job_id, version, size=len(content))
    answer = env.events.put_events(Entries=[{
        "Source": SOURCE, "DetailType": UPDATE_OFFERED, "Detail": json.dumps(detail),
        "EventBusName": env.topology["bus"]["name"]}])
    if answer.get("FailedEntryCount"):
        raise OtaError("job %s created, but the bus refused UpdateOffered: %s"
                       % (job_id, answer["Entries"][0]))
    return dict(document, jobId=job_id)


def main(argv=None):
    from cloud.aws.deploy import DeployEnv

    parser = argparse.ArgumentParser(prog="python -m cloud.aws.ota", description=__doc__.splitlines()[0])
    parser.add_argument("thing", nargs="?", help="the feeder of the household to update (default: its first)")
    parser.add_argument("version", help="a release built by make release")
    parser.add_argument("--releases", default=os.path.join("build", "release"))
    parser.add_argument("--expires-s", type=int, default=DEFAULT_EXPIRES_S,
                        help="how long the pre-signed URL lives (60 s to 7 days, the default)")
    parser.add_argument("--household", default=household.PATH)
    session.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        topology = household.topology(household.load(args.household))
        args.thing = household.feeder(household.load(args.household), args.thing)["thing"]
        env = DeployEnv(session.AwsEnv.from_args(args), topology=topology)
        if ensure_job_execution_events(env.iot):
            print("ota: turned on IoT's job execution events (the ledger's update outcomes)")
        document = offer(env, args.thing, args.version, args.releases, args.expires_s)
    except (OtaError, household.HouseholdError) as error:
        print("ota: %s" % error, file=sys.stderr)
        return 1
    except session.AWS_FAILURES as error:
        return session.report("ota", error)
    print("ota: %s offered %s as job %s (s3://%s/ota/%s.bundle, its URL valid %d s)" % (
        args.thing, args.version, document["jobId"], env.releases_bucket, document["jobId"], args.expires_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())

