"""`make press VIA=aws` against moto's server: iot-data Publish on the account's iot:Data-ATS endpoint,
and one actionable line when there is no stack or no credentials.

moto's server runs in this process (ThreadedMotoServer) so the test can read what iot-data received:
its published payloads are not in the server's JSON model dump."""

import json
import os
import urllib.request

import boto3
import pytest
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends
from moto.server import ThreadedMotoServer

from cloud import press
from cloud.aws.session import AwsEnv
from cloud.hub.processes import free_port
from cloud.topology import TOPOLOGY
from firmware.press import press_id
from tests.makerun import make, own_lines, without_aws_credentials
from tools.moto_server import fake_credentials

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield "http://127.0.0.1:%d" % port
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_url):
    """The environment of a `make press` subprocess: fake credentials valid only on the reset moto server."""
    urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset", method="POST")).close()
    iotdata_backends[DEFAULT_ACCOUNT_ID][REGION].published_payloads.clear()
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true", **fake_credentials(moto_url, REGION))
    env.pop("AWS_PROFILE", None)
    return env


def deploy_button_rule(env):
    """The part of the stack a press needs: the topic rule (what `make deploy` creates)."""
    (rule,) = [rule for rule in TOPOLOGY["topic_rules"] if rule["name"] == press.BUTTON_RULE]
    iot = boto3.client(
        "iot",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iot.create_topic_rule(ruleName=rule["name"], topicRulePayload={"sql": rule["sql"], "actions": []})


def make_press(env, *variables):
    return make("press", "VIA=aws", *variables, env=env, timeout=60)


def test_make_press_publishes_on_the_things_button_topic_at_qos_1(aws_env, tmp_path):
    deploy_button_rule(aws_env)
    published = iotdata_backends[DEFAULT_ACCOUNT_ID][REGION].published_payloads
    household = tmp_path / "household.json"  # a thing of the household file: make press refuses others
    household.write_text(json.dumps({"things": [{"thing": "kitchen-feeder", "name": "Kitchen"}]}))
    done = make_press(
        aws_env,
        "EVENT=LONG",
        "THING=kitchen-feeder",
        "HOUSEHOLD=%s" % household,
        "DEPLOY_ARGS=--endpoint-url %s" % aws_env["AWS_ENDPOINT_URL"],
    )
    assert done.returncode == 0, done.stderr
    ((topic, payload),) = published
    message = json.loads(payload)
    assert topic == "cat-feeder/kitchen-feeder/button"
    assert set(message) == {"v", "event", "at", "seq"} and (message["v"], message["event"]) == (1, "LONG")
    assert press_id("kitchen-feeder", "LONG", message["at"], message["seq"]) in done.stdout


def test_no_stack_is_one_line_naming_make_deploy_and_publishes_nothing(aws_env):
    published = iotdata_backends[DEFAULT_ACCOUNT_ID][REGION].published_payloads
    done = make_press(aws_env, "EVENT=SINGLE", "DEPLOY_ARGS=--endpoint-url %s" % aws_env["AWS_ENDPOINT_URL"])
    assert done.returncode != 0
    assert own_lines(done.stderr) == [
        "press: no cat feeder stack deployed in eu-west-1 (topic rule cat_feeder_button not found): "
        "run `make deploy` first, or press on the hub (leave out VIA=aws)"
    ]
    assert published == []


def test_no_credentials_is_one_line_saying_how_to_provide_them(tmp_path):
    env = without_aws_credentials(tmp_path)
    done = make_press(env, "EVENT=SINGLE")
    assert done.returncode != 0
    (line,) = own_lines(done.stderr)
    assert line.startswith("press: no AWS credentials: set AWS_PROFILE"), done.stderr


def test_iot_data_goes_to_the_accounts_ats_endpoint():
    """Without --endpoint-url the client talks to the endpoint iot:Data-ATS names (Stubber: no AWS here)."""
    aws = AwsEnv(region=REGION)
    iot = boto3.client("iot", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    endpoint = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"
    with Stubber(iot) as stub:
        stub.add_response(
            "describe_endpoint", {"endpointAddress": endpoint}, {"endpointType": "iot:Data-ATS"}
        )
        aws.client = lambda service: iot
        client = press.iot_data_client(aws)
    assert client.meta.endpoint_url == "https://" + endpoint
    assert client.meta.service_model.service_name == "iot-data"
