"""The strict AWS layer (tests/strict_aws): it is active on every client a cloud test creates, and each rule
refuses its violation the way AWS does, while what the deployer and hydrate send passes."""

import json

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from cloud.aws import iam
from cloud.aws.resources.iot import IOT_SQL_VERSION, thing_attributes
from cloud.topology import TOPOLOGY
from tests.cloud.envs import REGION
from tests.strict_aws import eventbridge, iot, lambda_

EVENT = {
    "version": "0",
    "id": "e-1",
    "detail-type": "FeedRequested",
    "source": "com.feedmyfurbabies",
    "account": "123456789012",
    "time": "2026-11-29T07:00:00Z",
    "region": REGION,
    "resources": [],
    "replay-name": "replay-t1",
    "detail": {"press_id": "p1", "event": "SINGLE"},
}
RULE_ARN = "arn:aws:events:eu-west-1:123456789012:rule/feedmyfurbabies/hydrate-t1"


def client(service, **config):
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id="strict",
        aws_secret_access_key="strict",
        config=botocore.config.Config(**config),
    )


def refused(call, **params):
    with pytest.raises(ClientError) as error:
        call(**params)
    assert "strict AWS layer" in str(error.value)
    return str(error.value)


def entry(detail_bytes=10):
    return {"Source": "s", "DetailType": "d", "Detail": json.dumps({"x": "y" * detail_bytes})}


# The layer is on: refused before anything is sent (no endpoint is reachable from these clients).


def test_every_client_goes_through_the_layer():
    # botocore's own validation staying on: test_strict_aws_dynamodb.py
    events = client("events")
    assert "11 entries" in refused(events.put_events, Entries=[entry()] * 11)


# EventBridge input transformers (eb-transform-target-input.html).


def transformer(template, paths=None):
    return {"InputPathsMap": paths or {}, "InputTemplate": template}


@pytest.mark.parametrize(
    "template, paths, reason",
    [
        ('{"e": <event>}', {}, "<event> is neither in InputPathsMap nor predefined"),
        ('{"e": <aws.events.detail>}', {}, "<aws.events.detail> is neither"),
        ('{"t": <t>}', {"t": "$.time", "aws.events.rule-name": "$.x"}, "redefines the predefined variable"),
        ('{"t": <t>}', {"t": "$.time", "bad name": "$.x"}, "is not [A-Za-z0-9_-]"),
        (
            '{"t": <v0>}',
            {"v%d" % i: "$.time" for i in range(101)},
            "101 InputPathsMap variables, at most 100",
        ),
        ('{"e": "<aws.events.event.json>"}', {}, "<aws.events.event.json> inside a JSON string"),
    ],
)
def test_input_transformers_aws_refuses(template, paths, reason):
    targets = [{"Id": "t", "Arn": RULE_ARN, "InputTransformer": transformer(template, paths)}]
    assert reason in refused(client("events").put_targets, Rule="r", Targets=targets)


def test_input_transformers_with_defined_placeholders_pass():
    assert (
        eventbridge.check_input_transformer(
            "t",
            transformer(
                '{"t": <t>, "a": <aws.events.rule-arn>, "n": <aws.events.rule-name>, '
                '"i": <aws.events.event.ingestion-time>, "e": <aws.events.event>, '
                '"j": <aws.events.event.json>}',
                {"t": "$.time"},
            ),
        )
        == []
    )


def test_what_the_target_receives_for_each_predefined_variable():
    def received(variable):
        return eventbridge.target_input(
            transformer('{"v": <%s>}' % variable),
            EVENT,
            RULE_ARN,
            "hydrate-t1",
            ingestion_time="2026-11-29T07:00:01Z",
        )["v"]

    assert received("aws.events.rule-arn") == RULE_ARN
    assert received("aws.events.rule-name") == "hydrate-t1"
    assert received("aws.events.event.ingestion-time") == "2026-11-29T07:00:01Z"
    assert received("aws.events.event") == {k: v for k, v in EVENT.items() if k != "detail"}
    assert "detail" not in received("aws.events.event")
    assert received("aws.events.event.json") == EVENT


def test_what_the_target_receives_for_paths_quoted_and_not():
    got = eventbridge.target_input(
        transformer('{"thing": "at <p>", "detail": <d>}', {"p": "$.detail.press_id", "d": "$.detail"}),
        EVENT,
        RULE_ARN,
        "r",
    )
    assert got == {"thing": "at p1", "detail": EVENT["detail"]}


# PutEvents limits (API_PutEvents.html, eb-putevent-size.html).


def test_put_events_entry_size_is_computed_as_aws_documents():
    assert (
        eventbridge.entry_size({"Source": "ab", "DetailType": "é", "Detail": "{}", "Resources": ["r1"]}) == 8
    )
    assert eventbridge.entry_size({"Source": "a", "DetailType": "b", "Time": "2026-11-29T07:00:00Z"}) == 16


def test_put_events_of_256_kb_in_total_are_refused_and_just_under_passes():
    base = eventbridge.entry_size(entry(0))
    per_entry = (eventbridge.MAX_TOTAL_ENTRY_BYTES - 2 * base) // 2
    over = [entry(per_entry), entry(eventbridge.MAX_TOTAL_ENTRY_BYTES - 2 * base - per_entry)]
    assert sum(map(eventbridge.entry_size, over)) == eventbridge.MAX_TOTAL_ENTRY_BYTES
    assert "must be less than 262144" in refused(client("events").put_events, Entries=over)
    eventbridge.put_events({"Entries": [entry(per_entry), entry(per_entry - 1)]})


# IoT rule SQL (iot-sql-reference.html).


@pytest.mark.parametrize(
    "sql, version, reason",
    [
        ("SELECT * FROM 'cat-feeder/+/states'", "2017-01-01", "awsIotSqlVersion '2017-01-01'"),
        ("SELECT * FROM 'cat-feeder/+/states'", "", "awsIotSqlVersion ''"),
        ("SELECT topic(3) AS thing FROM 'cat-feeder/+'", "2016-03-23", "topic(3) outside the 2 levels"),
        ("SELECT topic(0) AS thing FROM 'cat-feeder/+'", "2016-03-23", "topic(0) outside"),
        ("SELECT v, end FROM 'cat-feeder/+'", "2016-03-23", "reserved word end"),
        ("SELECT v AS from FROM 'cat-feeder/+'", "2016-03-23", "reserved word from"),
        ("SELEC * FROM 'cat-feeder/+'", "2016-03-23", "not of the form"),
    ],
)
def test_topic_rule_sql_aws_refuses(sql, version, reason):
    payload = {"sql": sql, "actions": []}
    if version is not None:
        payload["awsIotSqlVersion"] = version
    assert reason in refused(client("iot").create_topic_rule, ruleName="r", topicRulePayload=payload)


def test_a_rules_select_as_the_rules_engine_evaluates_it():
    button = "SELECT v, event, at, seq, topic(2) AS thing FROM 'cat-feeder/+/button'"
    press = {"v": 1, "event": "LONG", "seq": 3, "thing": "other", "extra": True}
    assert iot.rule_output(button, "cat-feeder/kitchen/button", press) == {
        "v": 1, "event": "LONG", "seq": 3, "thing": "kitchen"}  # `at` absent, `extra` not selected
    assert iot.rule_output(button, "cat-feeder/kitchen/states", press) is None
    assert iot.rule_output(button, "cat-feeder/a/b/button", press) is None  # + is one level
    assert iot.rule_output("SELECT * FROM 'cat-feeder/#'", "cat-feeder/a/b", {"x": 1}) == {"x": 1}


def test_an_iot_policy_allows_only_its_resources_for_the_connected_thing():
    document = {"Statement": [{"Effect": "Allow", "Action": ["iot:Publish"],
                               "Resource": "arn:topic/t/${iot:Connection.Thing.ThingName}/?"}]}
    assert iot.policy_allows(document, "iot:Publish", "arn:topic/t/a/x", "a")
    assert not iot.policy_allows(document, "iot:Publish", "arn:topic/t/a/xy", "a")
    assert not iot.policy_allows(document, "iot:Publish", "arn:topic/t/b/x", "a")
    assert not iot.policy_allows(document, "iot:Receive", "arn:topic/t/a/x", "a")
    denied = {"Statement": [dict(document["Statement"][0], Effect="Deny")]}
    with pytest.raises(ValueError, match="not one this evaluation models"):
        iot.policy_allows(denied, "iot:Publish", "x", "a")


# Thing attributes (thing-types.html, API_ThingAttribute.html).


FOUR = {"a": "1", "b": "2", "c": "3", "d": "4"}


@pytest.mark.parametrize("operation, attributes, reason", [
    ("create_thing", FOUR, "4 attributes on a thing without a thing type"),
    ("update_thing", FOUR, "4 attributes on a thing without a thing type"),
    ("create_thing", {"managed by": "x"}, "attribute name 'managed by'"),
    ("create_thing", {"k" * 129: "x"}, "attribute name"),
    ("create_thing", {"role": "feeder!"}, "attribute role value 'feeder!'"),
    ("create_thing", {"role": "x" * 801}, "attribute role value"),
])
def test_thing_attributes_aws_refuses(operation, attributes, reason):
    call = getattr(client("iot"), operation)
    assert reason in refused(call, thingName="kitchen", attributePayload={"attributes": attributes})


def test_a_thing_name_aws_refuses():
    assert "thing name 'kitchen/+'" in refused(client("iot").create_thing, thingName="kitchen/+")
    assert "thing name" in refused(client("iot").create_thing, thingName="k" * 129)


def test_an_iot_policy_over_2048_characters_without_whitespace_aws_refuses():
    topic = "arn:aws:iot:r:1:topic/" + "t" * 2000
    statement = {"Effect": "Allow", "Action": "iot:Publish", "Resource": topic}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=4)
    assert "over 2048" in refused(client("iot").create_policy, policyName="p", policyDocument=document)
    assert "over 2048" in refused(
        client("iot").create_policy_version, policyName="p", policyDocument=document, setAsDefault=True)
    # Whitespace does not count: the topology's documents, indented, are well under the limit.
    for policy in TOPOLOGY["iot_policies"]:
        text = json.dumps(iam.iot_policy(policy, iam.Arns("aws", REGION, "123456789012")), indent=8)
        size = iot.policy_characters(text)
        assert len(text) > size and size < iot.MAX_POLICY_CHARACTERS


def test_what_the_deployer_marks_its_things_with_passes():
    assert iot.check_attributes(thing_attributes("feeder"), typed=False) == []
    assert iot.check_attributes(dict(FOUR, d="[x]=y"), typed=True) == []


def test_the_topologys_topic_rules_pass():
    for rule in TOPOLOGY["topic_rules"]:
        assert iot.check_sql(rule["sql"], IOT_SQL_VERSION) == []
    assert iot.check_sql("SELECT \"end\", concat(a, ',', b) AS c FROM 'a/b' WHERE x > 1", "beta") == []


# Lambda environment (gettingstarted-limits.html).


def test_function_environment_over_4_kb_is_refused():
    variables = {"A": "x" * 4090}
    assert lambda_.environment_size(variables) == 4090 + len('{"A":""}')
    reason = refused(
        client("lambda").update_function_configuration, FunctionName="f", Environment={"Variables": variables}
    )
    assert "at most 4096" in reason
    lambda_.environment("CreateFunction")({"Environment": {"Variables": {"A": "x" * 4088}}})
