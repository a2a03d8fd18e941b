"""Not-found is what each API says it is; a permission error is reported as one, naming the IAM action."""

import pytest
from botocore.exceptions import ClientError

from cloud.aws import deploy, resources
from cloud.aws.errors import PermissionDenied, is_not_found
from cloud.topology import TOPOLOGY
from tests.cloud.envs import stubbed_env

TOPIC_RULE = TOPOLOGY["topic_rules"][0]


def error(code, operation):
    return ClientError({"Error": {"Code": code, "Message": "m"}}, operation)


@pytest.mark.parametrize(
    ("service", "code", "operation", "expected"),
    [
        ("sqs", "QueueDoesNotExist", "GetQueueUrl", True),
        ("sqs", "AWS.SimpleQueueService.NonExistentQueue", "GetQueueUrl", True),
        ("sqs", "ResourceNotFoundException", "GetQueueUrl", False),  # not SQS's way of saying it
        ("iam", "NoSuchEntity", "GetRole", True),
        ("lambda", "ResourceNotFoundException", "GetFunction", True),
        ("lambda", "ResourceNotFoundException", "CreateFunction", False),  # a create cannot find "nothing"
        ("iot", "UnauthorizedException", "GetTopicRule", False),
        ("iot", "UnauthorizedException", "DescribeThing", False),
        ("events", "ResourceNotFoundException", "DescribeRule", True),
        ("events", "AccessDeniedException", "DescribeRule", False),
    ],
)
def test_not_found_is_mapped_per_service_and_api(service, code, operation, expected):
    assert is_not_found(error(code, operation), service) is expected


def test_a_missing_topic_rule_is_absent_without_asking_get_topic_rule(fake_time, tmp_path):
    env, stubs = stubbed_env(fake_time, tmp_path, iot="iot")
    stubs["iot"].add_response("list_topic_rules", {"rules": [{"ruleName": "another_rule"}]})
    assert resources.TopicRule(env, TOPIC_RULE).read() is None
    stubs["iot"].assert_no_pending_responses()


def test_unauthorized_on_an_existing_topic_rule_is_a_permission_error_naming_the_action(fake_time, tmp_path):
    env, stubs = stubbed_env(fake_time, tmp_path, iot="iot")
    stubs["iot"].add_response("list_topic_rules", {"rules": [{"ruleName": TOPIC_RULE["name"]}]})
    stubs["iot"].add_client_error("get_topic_rule", "UnauthorizedException", "not authorized", 401)
    rule = resources.TopicRule(env, TOPIC_RULE)
    with pytest.raises(
        PermissionDenied, match="permission denied: iot:GetTopicRule on iot topic rule cat_feeder_button"
    ):
        deploy.checked(rule, rule.read)


def test_a_denied_read_stops_plan_and_the_cli_names_the_action(fake_time, tmp_path, monkeypatch, capsys):
    """Without the mapping the bus would be planned as "create" although it may exist."""
    env, stubs = stubbed_env(fake_time, tmp_path, events="events")
    stubs["events"].add_client_error("describe_event_bus", "AccessDeniedException", "no", 400)
    bus = resources.Bus(env, "feedmyfurbabies")
    monkeypatch.setattr(deploy, "DeployEnv", lambda *args, **kwargs: env)
    monkeypatch.setattr(deploy, "declared_resources", lambda env: [bus])
    # Credentials to pass the CLI's check (AwsEnv.from_args); every call then goes to the stubs.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "stubbed")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stubbed")
    assert deploy.main(["plan"]) == 1
    assert capsys.readouterr().err.startswith(
        "permission denied: events:DescribeEventBus on event bus feedmyfurbabies (AccessDeniedException: no)"
    )


def test_an_unexpected_error_is_neither_absent_nor_a_permission_error(fake_time, tmp_path):
    env, stubs = stubbed_env(fake_time, tmp_path, events="events")
    stubs["events"].add_client_error("describe_event_bus", "InternalException", "boom", 500)
    bus = resources.Bus(env, "feedmyfurbabies")
    with pytest.raises(ClientError, match="InternalException"):
        deploy.checked(bus, bus.read)
