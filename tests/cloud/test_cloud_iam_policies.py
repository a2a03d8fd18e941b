"""The declared IAM and IoT policies grant exact actions on exact ARNs."""

from cloud import iam
from cloud.topology import TOPOLOGY

ARNS = iam.Arns("aws", "eu-west-1", "123456789012")


def statements(document):
    return {
        (s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"]), str(s["Resource"]))
        for s in document["Statement"]
    }


def test_button_handler_may_only_put_events_on_the_bus_and_log():
    granted = statements(iam.function_policy(TOPOLOGY, "button", ARNS))
    assert (
        ("events:PutEvents",),
        "arn:aws:events:eu-west-1:123456789012:event-bus/feedmyfurbabies",
    ) in granted
    assert not any("iot" in str(action) or "sqs" in str(action) for action, _ in granted)


def test_feeder_may_only_publish_to_the_action_topic_and_report_failures():
    granted = statements(iam.function_policy(TOPOLOGY, "feeder", ARNS))
    assert (("iot:Publish",), "arn:aws:iot:eu-west-1:123456789012:topic/cat-feeder/action") in granted
    assert (
        ("sqs:SendMessage",),
        "arn:aws:sqs:eu-west-1:123456789012:feedmyfurbabies-feeds-failed",
    ) in granted
    assert not any("events:" in str(action) or "secretsmanager" in str(action) for action, _ in granted)


def test_no_policy_uses_wildcard_actions_or_resources_beyond_log_streams():
    for function_key in TOPOLOGY["functions"]:
        for action, resource in statements(iam.function_policy(TOPOLOGY, function_key, ARNS)):
            assert "*" not in str(action)
            assert "*" not in resource or resource.endswith(":log-stream:*"), resource


def test_queue_policy_admits_only_the_rules_that_deliver_there():
    document = iam.queue_policy(TOPOLOGY, "replays", ARNS)
    (statement,) = document["Statement"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        "arn:aws:events:eu-west-1:123456789012:rule/feedmyfurbabies/replays"
    ]


def test_device_policy_pins_client_id_and_button_topic_to_the_thing_name():
    document = iam.iot_policy(TOPOLOGY["iot_policies"][0], ARNS)
    by_action = {s["Action"]: s for s in document["Statement"]}
    connect = by_action["iot:Connect"]
    assert connect["Resource"] == [
        "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"
    ]
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
    assert (
        "arn:aws:iot:eu-west-1:123456789012:topic/cat-feeder/${iot:Connection.Thing.ThingName}/button"
        in (by_action["iot:Publish"]["Resource"])
    )
    assert by_action["iot:Subscribe"]["Resource"] == [
        "arn:aws:iot:eu-west-1:123456789012:topicfilter/cat-feeder/action"
    ]


def test_button_board_policy_only_connects_as_itself_and_publishes_its_own_presses():
    (policy,) = [p for p in TOPOLOGY["iot_policies"] if p["name"] == "cat-feeder-button"]
    document = iam.iot_policy(policy, ARNS)
    assert {s["Action"]: s["Resource"] for s in document["Statement"]} == {
        "iot:Connect": ["arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"],
        "iot:Publish": [
            "arn:aws:iot:eu-west-1:123456789012:topic/cat-feeder/${iot:Connection.Thing.ThingName}/button"
        ],
    }
    assert "attach_to" not in policy  # never attached to the feeder's thing
