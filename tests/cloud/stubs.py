"""botocore Stubber on a DeployEnv's clients, for what moto does not reproduce (AWS's delays, name reuse,
permission errors). Every call on a stubbed client must be one the test expects, in order."""

import boto3
from botocore.stub import Stubber

from cloud import deploy, iam
from cloud.awsenv import AwsEnv
from cloud.waiting import Waiting

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def stubbed_env(fake_time, out_dir, lines=None, **clients):
    """A DeployEnv with no network: clients maps an attribute (iot, events, lambda_...) to its service."""
    out = (lines if lines is not None else []).append
    waiting = Waiting(out=out, sleep=fake_time.sleep, clock=fake_time.clock)
    env = deploy.DeployEnv(AwsEnv(region=REGION), out_dir=out_dir, waiting=waiting)
    env.__dict__["arns"] = iam.Arns("aws", REGION, ACCOUNT)
    stubbers = {}
    for attribute, service in clients.items():
        client = boto3.client(
            service, region_name=REGION, aws_access_key_id="stub", aws_secret_access_key="stub"
        )
        env.__dict__[attribute] = client
        stubbers[attribute] = Stubber(client)
        stubbers[attribute].activate()
    return env, stubbers
