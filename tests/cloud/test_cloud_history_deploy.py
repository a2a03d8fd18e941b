"""The outcomes half on AWS, deployed by the deployer against moto's server: the states function and
its topic rule (with an error action), the projector and its `history` rule, the on-demand table, and
an archive that keeps both sources; `plan` names each, a second `apply` changes nothing."""

import json

import boto3

from cloud.aws import deploy
from cloud.handlers import states
from cloud.topology import local_environment
from tests.cloud.envs import env_for, run
from tests.strict_aws.iot import rule_output

NEW = [
    "create    dynamodb table feedmyfurbabies-history",
    "create    sqs queue feedmyfurbabies-history-failed",
    "create    lambda function feedmyfurbabies-states",
    "create    lambda function feedmyfurbabies-projector",
    "create    lambda permission feedmyfurbabies-projector/events-history",
    "create    lambda permission feedmyfurbabies-states/iot-cat_feeder_states",
    "create    event rule history",
    "create    event targets of rule history",
    "create    iot topic rule cat_feeder_states",
]


def test_plan_shows_and_apply_creates_the_outcome_path_idempotently(aws, tmp_path):
    planned = run(deploy.plan, env_for(aws, tmp_path))
    assert set(NEW) <= set(planned)
    run(deploy.apply, env_for(aws, tmp_path))
    assert run(deploy.apply, env_for(aws, tmp_path))[-1].startswith("Nothing changed")
    table = boto3.client("dynamodb").describe_table(TableName="feedmyfurbabies-history")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    events = boto3.client("events")
    history = json.loads(events.describe_rule(Name="history", EventBusName="feedmyfurbabies")["EventPattern"])
    assert history == {"source": ["com.feedmyfurbabies", "com.feedmyfurbabies.device"]}
    feeds = json.loads(events.describe_rule(Name="feeds", EventBusName="feedmyfurbabies")["EventPattern"])
    assert feeds["detail-type"] == ["FeedRequested"] and feeds["replay-name"] == [{"exists": False}]
    (target,) = events.list_targets_by_rule(Rule="history", EventBusName="feedmyfurbabies")["Targets"]
    assert target["Arn"].endswith(":function:feedmyfurbabies-projector")
    assert target["DeadLetterConfig"]["Arn"].endswith(":feedmyfurbabies-history-failed")
    archive = events.describe_archive(ArchiveName="feedmyfurbabies-ledger")
    assert json.loads(archive["EventPattern"]) == {
        "source": ["com.feedmyfurbabies", "com.feedmyfurbabies.device"]
    }
    rule = boto3.client("iot").get_topic_rule(ruleName="cat_feeder_states")["rule"]
    assert rule["sql"] == "SELECT *, topic(2) AS thing FROM 'cat-feeder/+/states'"
    assert rule["actions"][0]["lambda"]["functionArn"].endswith(":function:feedmyfurbabies-states")
    assert rule["errorAction"]["sqs"]["queueUrl"].endswith("/feedmyfurbabies-presses-failed")
    projector = boto3.client("lambda").get_function(FunctionName="feedmyfurbabies-projector")["Configuration"]
    assert projector["Environment"]["Variables"] == {"HISTORY_TABLE": "feedmyfurbabies-history"}


class RecordedEvents:
    """The states handler's events client: keeps each PutEvents entry."""

    def __init__(self):
        self.entries = []

    def put_events(self, Entries):  # noqa: N803 (boto3's parameter name)
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


def test_the_deployed_states_rule_writes_the_topics_thing_never_the_payloads(aws, tmp_path):
    """Issue 16, defect 5: a certificate that may publish only on cat-feeder/feeder-a/states claims
    feeder-b in the payload; the rule's SELECT (as AWS runs it) makes it feeder-a's event."""
    run(deploy.apply, env_for(aws, tmp_path))
    sql = boto3.client("iot").get_topic_rule(ruleName="cat_feeder_states")["rule"]["sql"]
    claim = {"v": 1, "type": "status", "thing": "feeder-b", "status": "online", "at": 1795730000}
    assert rule_output(sql, "cat-feeder/feeder-b/action", claim) is None  # not a states topic
    delivered = rule_output(sql, "cat-feeder/feeder-a/states", claim)
    assert delivered == dict(claim, thing="feeder-a")
    events = RecordedEvents()
    context = states.Context(events, local_environment("states"), log=lambda line: None)
    answer = states.handle(delivered, context)
    assert answer["thing"] == "feeder-a"
    assert [json.loads(entry["Detail"])["thing"] for entry in events.entries] == ["feeder-a"]
