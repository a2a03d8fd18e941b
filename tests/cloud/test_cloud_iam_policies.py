"""The declared IAM and IoT policies grant exact actions on exact ARNs."""

import pytest

from cloud.aws import iam
from cloud.topology import TOPOLOGY
from tests.strict_aws.iot import policy_allows

ARNS = iam.Arns("aws", "eu-west-1", "123456789012")


def grants(document):
    """Every (action, resource) pair a policy allows; fails on anything but plain Allow statements."""
    pairs = set()
    for statement in document["Statement"]:
        assert set(statement) == {"Effect", "Action", "Resource"} and statement["Effect"] == "Allow", (
            statement
        )
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = (
            [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        )
        pairs.update((action, resource) for action in actions for resource in resources)
    return pairs


def log_streams(function_name):
    return {
        (action, "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/%s:log-stream:*" % function_name)
        for action in ("logs:CreateLogStream", "logs:PutLogEvents")
    }


# The complete allow-list of each function role: anything added or widened fails here.
ALLOWED = {
    "button": log_streams("feedmyfurbabies-button")
    | {
        ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/feedmyfurbabies"),
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:feedmyfurbabies-presses-failed"),
    },
    "states": log_streams("feedmyfurbabies-states")
    | {
        ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/feedmyfurbabies"),
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:feedmyfurbabies-presses-failed"),
    },
    "projector": log_streams("feedmyfurbabies-projector")
    | {
        ("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/feedmyfurbabies-history"),
        ("dynamodb:PutItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/feedmyfurbabies-history"),
        # The tables cloud/aws/hydrate.py creates, and nothing else.
        ("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/feedmyfurbabies-history-*"),
        ("dynamodb:PutItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/feedmyfurbabies-history-*"),
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:feedmyfurbabies-history-failed"),
    },
    "feeder": log_streams("feedmyfurbabies-feeder")
    | {
        # Every feeder's action topic (the press names its thing), no states, button or other topic.
        ("iot:Publish", "arn:aws:iot:eu-west-1:123456789012:topic/cat-feeder/*/action"),
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:feedmyfurbabies-feeds-failed"),
    },
    "schedules": log_streams("feedmyfurbabies-schedules")
    | {
        # Every thing's `schedule` named shadow, no other shadow, no topic.
        ("iot:GetThingShadow", "arn:aws:iot:eu-west-1:123456789012:thing/*/schedule"),
        ("iot:UpdateThingShadow", "arn:aws:iot:eu-west-1:123456789012:thing/*/schedule"),
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:feedmyfurbabies-feeds-failed"),
    },
    "alerts": log_streams("feedmyfurbabies-alerts")
    | {
        ("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/feedmyfurbabies-incidents"),
        ("dynamodb:PutItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/feedmyfurbabies-incidents"),
        ("sns:Publish", "arn:aws:sns:eu-west-1:123456789012:feedmyfurbabies-alerts"),
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:feedmyfurbabies-alerts-failed"),
    },
}


def test_each_function_role_allows_exactly_its_allow_list():
    assert set(TOPOLOGY["functions"]) == set(ALLOWED)
    for function_key, allowed in ALLOWED.items():
        assert grants(iam.function_policy(TOPOLOGY, function_key, ARNS)) == allowed, function_key


def test_topic_rules_role_may_only_send_to_the_error_queue():
    assert grants(iam.topic_rules_policy(TOPOLOGY, ARNS)) == {
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:feedmyfurbabies-presses-failed")
    }


def test_every_asynchronously_invoked_function_and_every_topic_rule_parks_its_failures():
    invoked = {t["function"] for rule in TOPOLOGY["rules"] for t in rule["targets"] if "function" in t}
    invoked |= {rule["function"] for rule in TOPOLOGY["topic_rules"]}
    for function_key in invoked:
        assert TOPOLOGY["functions"][function_key]["async"]["on_failure_queue"] in TOPOLOGY["queues"]
    for rule in TOPOLOGY["topic_rules"]:
        assert rule["error_queue"] in TOPOLOGY["queues"]


def test_queue_policy_admits_only_the_rules_that_deliver_there():
    document = iam.queue_policy(TOPOLOGY, "replays", ARNS)
    (statement,) = document["Statement"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        "arn:aws:events:eu-west-1:123456789012:rule/feedmyfurbabies/replays"
    ]


IOT = "arn:aws:iot:eu-west-1:123456789012:"
OWN = "${iot:Connection.Thing.ThingName}"
# Its own `schedule` shadow: it asks (get) and reports (update), and hears the answers it needs.
SHADOW = "$aws/things/%s/shadow/name/schedule/"
DEVICE_HEARS = ("get/accepted", "get/rejected", "update/delta")
# Its own jobs (updates over the air, AWS IoT Jobs' device MQTT API): it asks for the next and reports on
# any of its job ids (`*`), and hears the next job.
JOBS = "$aws/things/%s/jobs/"
JOBS_HEARS = ("notify-next", "$next/get/accepted")


def test_device_policy_grants_each_thing_only_its_own_client_id_and_topics_statement_by_statement():
    document = iam.iot_policy(TOPOLOGY["iot_policies"][0], ARNS)
    assert document["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": [IOT + "client/" + OWN],
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
        },
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": [IOT + "topicfilter/cat-feeder/%s/action" % OWN]
            + [IOT + "topicfilter/" + SHADOW % OWN + suffix for suffix in DEVICE_HEARS],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Receive",
            "Resource": [IOT + "topic/cat-feeder/%s/action" % OWN]
            + [IOT + "topic/" + SHADOW % OWN + suffix for suffix in DEVICE_HEARS],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": [IOT + "topic/cat-feeder/%s/states" % OWN, IOT + "topic/cat-feeder/%s/button" % OWN]
            + [IOT + "topic/" + SHADOW % OWN + suffix for suffix in ("get", "update")],
        },
        # The retained `online` status and the `offline` will, on its own states topic only.
        {
            "Effect": "Allow",
            "Action": "iot:RetainPublish",
            "Resource": [IOT + "topic/cat-feeder/%s/states" % OWN],
        },
    ]


def test_the_jobs_policy_grants_a_feeder_only_its_own_jobs_topics():
    (policy,) = [p for p in TOPOLOGY["iot_policies"] if p["name"] == "cat-feeder-device-jobs"]
    assert policy["role"] == "feeder"  # attached beside the device policy (cloud/aws/resources/iot.py)
    document = iam.iot_policy(policy, ARNS)
    assert {s["Action"]: s["Resource"] for s in document["Statement"]} == {
        "iot:Publish": [IOT + "topic/" + JOBS % OWN + suffix for suffix in ("$next/get", "*/update")],
        "iot:Subscribe": [IOT + "topicfilter/" + JOBS % OWN + suffix for suffix in JOBS_HEARS],
        "iot:Receive": [IOT + "topic/" + JOBS % OWN + suffix for suffix in JOBS_HEARS],
    }


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("iot:Publish", "topic/$aws/things/{thing}/jobs/$next/get"),
        ("iot:Publish", "topic/$aws/things/{thing}/jobs/ota-1_5_0-1/update"),
        ("iot:Subscribe", "topicfilter/$aws/things/{thing}/jobs/notify-next"),
        ("iot:Receive", "topic/$aws/things/{thing}/jobs/$next/get/accepted"),
    ],
)
def test_feeder_a_may_use_its_own_jobs_topics_and_none_of_feeder_bs(action, resource):
    (policy,) = [p for p in TOPOLOGY["iot_policies"] if p["name"] == "cat-feeder-device-jobs"]
    document = iam.iot_policy(policy, ARNS)
    assert policy_allows(document, action, IOT + resource.format(thing="feeder-a"), "feeder-a")
    assert not policy_allows(document, action, IOT + resource.format(thing="feeder-b"), "feeder-a")


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("iot:Connect", "client/{thing}"),
        ("iot:Subscribe", "topicfilter/cat-feeder/{thing}/action"),
        ("iot:Receive", "topic/cat-feeder/{thing}/action"),
        ("iot:Publish", "topic/cat-feeder/{thing}/states"),
        ("iot:RetainPublish", "topic/cat-feeder/{thing}/states"),
        ("iot:Publish", "topic/cat-feeder/{thing}/button"),
    ],
)
def test_feeder_a_may_use_its_own_client_id_and_topics_and_none_of_feeder_bs(action, resource):
    document = iam.iot_policy(TOPOLOGY["iot_policies"][0], ARNS)
    assert policy_allows(document, action, IOT + resource.format(thing="feeder-a"), "feeder-a")
    assert not policy_allows(document, action, IOT + resource.format(thing="feeder-b"), "feeder-a")
    # Nor anything of another kind: commands are the cloud's to publish, presses and states to consume.
    assert not policy_allows(document, "iot:Publish", IOT + "topic/cat-feeder/feeder-a/action", "feeder-a")
    assert not policy_allows(document, "iot:Subscribe", IOT + "topicfilter/cat-feeder/+/states", "feeder-a")
    assert not policy_allows(document, "iot:Subscribe", IOT + "topicfilter/cat-feeder/+/action", "feeder-a")


def test_button_board_policy_only_connects_as_itself_and_publishes_its_own_presses():
    (policy,) = [p for p in TOPOLOGY["iot_policies"] if p["name"] == "cat-feeder-button"]
    document = iam.iot_policy(policy, ARNS)
    assert {s["Action"]: s["Resource"] for s in document["Statement"]} == {
        "iot:Connect": ["arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"],
        "iot:Publish": [
            "arn:aws:iot:eu-west-1:123456789012:topic/cat-feeder/${iot:Connection.Thing.ThingName}/button"
        ],
    }
    assert policy["role"] == "button"  # attached to the buttons' certificates, never a feeder's
