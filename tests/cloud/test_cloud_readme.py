"""cloud/README.md is a contract: the counts its first-deploy walk-through quotes are the topology's, and
its credentials list names every service the deployer manages and the role passing it needs."""

import re
from pathlib import Path

from cloud.aws.resources import declared_resources
from tests.cloud.envs import stubbed_env

README = (Path(__file__).resolve().parents[2] / "cloud" / "README.md").read_text()
# How the README names the services of cloud/aws/resources/.
SERVICE_NAMES = {
    "iam": "IAM",
    "lambda": "Lambda",
    "logs": "CloudWatch Logs",
    "events": "EventBridge",
    "sqs": "SQS",
    "dynamodb": "DynamoDB",
    "iot": "IoT",
    "sns": "SNS",
    "s3": "S3",
}


def quoted(pattern):
    return [int(n) for n in re.findall(pattern, README)]


def test_the_documented_resource_counts_are_the_topologys(fake_time, tmp_path):
    env, _ = stubbed_env(fake_time, tmp_path)
    declared = declared_resources(env)
    ledger = sum(resource.ledger for resource in declared)
    assert quoted(r"Plan: (\d+) to create") == [len(declared)]
    assert quoted(r"Applied (\d+) changes") == [len(declared)]
    assert quoted(r"Nothing changed: (\d+) resources") == [len(declared)]
    assert quoted(r"Destroyed (\d+) resources") == [len(declared) - ledger]


def test_the_credentials_list_names_every_managed_service_and_pass_role(fake_time, tmp_path):
    env, _ = stubbed_env(fake_time, tmp_path)
    credentials = re.search(r"\*\*Credentials\.\*\*(.*?)\n\d\. ", README, re.S)[1]
    credentials = " ".join(credentials.split())
    services = {resource.service for resource in declared_resources(env)}
    assert services == set(SERVICE_NAMES)
    assert [SERVICE_NAMES[s] for s in sorted(services) if SERVICE_NAMES[s] not in credentials] == []
    assert "`iam:PassRole`" in credentials
