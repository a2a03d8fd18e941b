"""The stricter DynamoDB of tests/strict_aws: each rule refuses its violation as AWS does (same code and
message), accepts the valid form, and is on for every client the code creates, without the code knowing."""

import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from cloud.aws.session import AwsEnv
from rigs.hubdata import ROOT
from tests.cloud.envs import create_history_table
from tests.strict_aws import dynamodb

KEY = {"key": {"S": "press#1"}}
UNREACHABLE = "http://127.0.0.1:9"  # the layer refuses before anything is sent


def refusal(operation, **params):
    with pytest.raises(ClientError) as caught:
        dynamodb.check(operation, dict(TableName="history", **params))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    return caught.value.response["Error"]["Message"]


VIOLATIONS = [
    (  # defect 1 of issue 16: the projector's conditional update
        dict(
            Item=KEY,
            ConditionExpression="version = :v",
            ExpressionAttributeNames={},
            ExpressionAttributeValues={":v": {"N": "1"}},
        ),
        "ExpressionAttributeNames must not be empty",
    ),
    (
        dict(
            Item=KEY,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key"},
            ExpressionAttributeValues={},
        ),
        "ExpressionAttributeValues must not be empty",
    ),
    (
        dict(
            Item=KEY,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key", "#s": "status"},
        ),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#s}",
    ),
    (
        dict(
            Item=KEY,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key"},
            ExpressionAttributeValues={":v": {"N": "1"}},
        ),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}",
    ),
    (
        dict(Item=KEY, ConditionExpression="attribute_not_exists(key)"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: key",
    ),
    (  # case-insensitive, and at any level of a document path
        dict(Item=KEY, ConditionExpression="doc.Status = :s", ExpressionAttributeValues={":s": {"S": "x"}}),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Status",
    ),
    (
        dict(Item=KEY, ConditionExpression="#k = :v", ExpressionAttributeValues={":v": {"N": "1"}}),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined;"
        " attribute name: #k",
    ),
    (
        dict(Item=KEY, ConditionExpression="version = :v"),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined;"
        " attribute value: :v",
    ),
    (
        dict(Item=dict(KEY, doc={"S": "x" * (400 * 1024 - 7)})),
        "Item size has exceeded the maximum allowed size",
    ),
]


@pytest.mark.parametrize("params, message", VIOLATIONS)
def test_each_rule_refuses_its_violation_with_aws_message(params, message):
    assert refusal("PutItem", **params) == message


@pytest.mark.parametrize("params, message", VIOLATIONS)
def test_dynalite_alone_refuses_each_violation_with_the_same_message(
    params, message, dynalite_server, monkeypatch
):
    monkeypatch.setenv("BOTOCORE_EXPERIMENTAL__PLUGINS", "DISABLED")  # no strict layer on this client
    dynalite_server.reset()
    client = dynalite_server.client()
    create_history_table(client, "history")
    with pytest.raises(ClientError) as caught:
        client.put_item(TableName="history", **params)
    assert caught.value.response["Error"] == {"Code": "ValidationException", "Message": message}


def test_the_valid_forms_pass():
    dynamodb.check(
        "PutItem",
        dict(
            TableName="history",
            Item=KEY,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key"},
        ),
    )
    dynamodb.check(
        "PutItem",
        dict(
            TableName="history",
            Item=KEY,
            ConditionExpression="version = :v",
            ExpressionAttributeValues={":v": {"N": "1"}},
        ),
    )
    dynamodb.check(
        "UpdateItem",
        dict(
            TableName="history",
            Key=KEY,
            UpdateExpression="SET doc = :d REMOVE gaps",
            ConditionExpression="attribute_exists(#k) AND size(doc) < :n",
            ExpressionAttributeNames={"#k": "key"},
            ExpressionAttributeValues={":d": {"S": "{}"}, ":n": {"N": "9"}},
        ),
    )
    # key: 3 + 7 bytes, doc: 3 + the rest: exactly 400 KB.
    dynamodb.check(
        "PutItem", dict(TableName="history", Item=dict(KEY, doc={"S": "x" * (400 * 1024 - 3 - 10)}))
    )


def test_attribute_values_are_data_not_parameters():
    item = dict(
        KEY, doc={"M": {"ConditionExpression": {"S": "status = :x"}, "ExpressionAttributeNames": {"M": {}}}}
    )
    dynamodb.check("PutItem", dict(TableName="history", Item=item))


def test_actions_inside_transactions_and_batches_are_checked_one_by_one():
    assert (
        refusal(
            "TransactWriteItems",
            TransactItems=[
                {
                    "Put": {
                        "TableName": "history",
                        "Item": KEY,
                        "ConditionExpression": "attribute_not_exists(#k)",
                        "ExpressionAttributeNames": {"#k": "key"},
                    }
                },
                {
                    "Update": {
                        "TableName": "history",
                        "Key": KEY,
                        "UpdateExpression": "SET #d = :d",
                        "ExpressionAttributeNames": {"#d": "doc"},
                        "ExpressionAttributeValues": {},
                    }
                },
            ],
        )
        == "ExpressionAttributeValues must not be empty"
    )
    assert (
        refusal(
            "BatchWriteItem",
            RequestItems={
                "history": [{"PutRequest": {"Item": dict(KEY, doc={"L": [{"S": "x" * 1024}] * 400})}}]
            },
        )
        == "Item size has exceeded the maximum allowed size"
    )


@pytest.mark.parametrize(
    "make_client",
    [
        lambda: boto3.client("dynamodb", endpoint_url=UNREACHABLE, region_name="eu-west-1"),
        lambda: AwsEnv(endpoint_url=UNREACHABLE).client("dynamodb"),
    ],
    ids=["boto3.client", "AwsEnv"],
)
def test_the_layer_is_on_for_clients_made_as_the_code_makes_them(make_client):
    client = make_client()
    with pytest.raises(ClientError, match="ExpressionAttributeNames must not be empty"):
        client.put_item(
            TableName="history",
            Item=KEY,
            ConditionExpression="version = :v",
            ExpressionAttributeNames={},
            ExpressionAttributeValues={":v": {"N": "1"}},
        )


def test_botocore_parameter_validation_stays_on():
    files = subprocess.run(
        ["git", "grep", "--untracked", "-l", "parameter_validation", "--", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert sorted(files) == ["tests/cloud/test_strict_aws_dynamodb.py", "tests/strict_aws/__init__.py"]
    client = boto3.client(
        "dynamodb",
        endpoint_url=UNREACHABLE,
        region_name="eu-west-1",
        config=Config(parameter_validation=False),
    )
    with pytest.raises(ParamValidationError, match="stays on in tests"):
        client.get_item(TableName="history", Key=KEY)
