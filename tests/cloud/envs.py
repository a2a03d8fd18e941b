"""DeployEnvs for the cloud tests: against moto's server (`env_for`, `run`), or with botocore's Stubber on
some clients (`stubbed_env`) for what moto does not reproduce (AWS's delays, name reuse, permission
errors), where every call must be one the test expects, in order; and `create_history_table` for the
DynamoDB store tests."""

import time

import boto3
from botocore.stub import Stubber

from cloud.aws import deploy, iam
from cloud.aws.session import AwsEnv
from cloud.aws.waiting import Waiting
from cloud.topology import TOPOLOGY

REGION = "eu-west-1"
ACCOUNT = "123456789012"


# moto answers DescribeEndpoint with a new random address on every call; AWS has one per account.
IOT_DATA_ENDPOINTS = {}


def env_for(url, out_dir, topology=TOPOLOGY):
    """A DeployEnv on moto's server at url, with a stable iot:Data-ATS endpoint as on AWS."""
    env = deploy.DeployEnv(AwsEnv(region=REGION, endpoint_url=url), out_dir=out_dir, topology=topology)
    env.__dict__["iot_data_endpoint"] = IOT_DATA_ENDPOINTS.setdefault(url, env.iot_data_endpoint)
    return env


def run(step, env, **options):
    """The lines a deploy step (plan, apply, destroy) prints."""
    lines = []
    step(env, out=lines.append, **options)
    return lines


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


def create_history_table(client, name):
    """A history table as the deployer declares it, once ACTIVE: DynamoDB (and dynalite) answer CreateTable
    while the table is still CREATING."""
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    while client.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
        time.sleep(0.01)
