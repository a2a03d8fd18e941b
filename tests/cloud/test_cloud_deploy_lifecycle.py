"""Deployer against moto's server: plan, deploy, redeploy (no change), update, destroy (nothing left)."""

import copy
import json
import os
import stat
import subprocess
import sys
from types import SimpleNamespace

import boto3

from cloud.aws import deploy
from cloud.aws.resources import LogGroup
from cloud.aws.session import AwsEnv
from cloud.topology import LOG_RETENTION_DAYS, TOPOLOGY
from tests.cloud.envs import REGION, env_for, run


def remaining_resources(url):
    client = lambda service: boto3.client(service, endpoint_url=url, region_name=REGION)  # noqa: E731
    events, iot = client("events"), client("iot")
    return {
        "buses": [b["Name"] for b in events.list_event_buses()["EventBuses"] if b["Name"] != "default"],
        "rules": events.list_rules()["Rules"],
        "archives": events.list_archives()["Archives"],
        "functions": client("lambda").list_functions()["Functions"],
        "queues": client("sqs").list_queues().get("QueueUrls", []),
        "roles": client("iam").list_roles()["Roles"],
        "things": iot.list_things()["things"],
        "policies": iot.list_policies()["policies"],
        "certificates": iot.list_certificates()["certificates"],
        "topic_rules": iot.list_topic_rules()["rules"],
        "log_groups": client("logs").describe_log_groups()["logGroups"],
        "tables": client("dynamodb").list_tables()["TableNames"],
        "topics": client("sns").list_topics()["Topics"],
        "buckets": client("s3").list_buckets()["Buckets"],
    }


def test_deploy_redeploy_update_and_destroy(aws, tmp_path):
    env = env_for(aws, tmp_path)
    planned = run(deploy.plan, env)
    assert planned[-1] == "Plan: 66 to create, 0 to update, 0 unchanged."
    assert remaining_resources(aws)["functions"] == []  # plan changed nothing

    applied = run(deploy.apply, env)
    assert applied[-1] == "Applied 66 changes."
    assert run(deploy.apply, env_for(aws, tmp_path)) == ["Nothing changed: 66 resources up to date."]
    assert run(deploy.plan, env_for(aws, tmp_path)) == ["Nothing to change: 66 resources up to date."]

    changed = copy.deepcopy(TOPOLOGY)
    changed["archive"]["retention_days"] = 30
    changed["functions"]["feeder"]["timeout_s"] = 5
    changed["functions"]["button"]["log_retention_days"] = 7
    assert run(deploy.plan, env_for(aws, tmp_path, changed)) == [
        "update    log group /aws/lambda/feedmyfurbabies-button (retention_days)",
        "update    lambda function feedmyfurbabies-feeder (configuration)",
        "update    event archive feedmyfurbabies-ledger (RetentionDays)",
        "Plan: 0 to create, 3 to update, 63 unchanged.",
    ]
    assert run(deploy.apply, env_for(aws, tmp_path, changed))[-1] == "Applied 3 changes."
    logs = boto3.client("logs", endpoint_url=aws, region_name=REGION)
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/feedmyfurbabies-button")["logGroups"]
    assert group["retentionInDays"] == 7
    assert (
        run(deploy.apply, env_for(aws, tmp_path, changed))[-1] == "Nothing changed: 66 resources up to date."
    )

    removed = run(deploy.destroy, env_for(aws, tmp_path))
    assert removed[-2:] == [
        "Destroyed 64 resources.",
        "Kept the ledger: event bus feedmyfurbabies and event archive feedmyfurbabies-ledger, with every"
        " archived press. `destroy --delete-ledger` deletes it.",
    ]
    left = remaining_resources(aws)
    assert left["buses"] == ["feedmyfurbabies"] and [a["ArchiveName"] for a in left["archives"]] == [
        "feedmyfurbabies-ledger"
    ]
    assert all(not found for kind, found in left.items() if kind not in ("buses", "archives")), left
    assert not (tmp_path / "cat-feeder").exists()

    # The recovery for a lost key: destroy, then deploy again on top of the kept ledger.
    redeployed = run(deploy.apply, env_for(aws, tmp_path))
    assert redeployed[-1] == "Applied 65 changes."  # 64 created; the kept archive is only updated
    assert "update    event archive feedmyfurbabies-ledger (RetentionDays)" in redeployed
    assert json.loads((tmp_path / "cat-feeder" / "device.json").read_text())["certificate_id"]
    assert run(deploy.apply, env_for(aws, tmp_path)) == ["Nothing changed: 66 resources up to date."]

    removed = run(deploy.destroy, env_for(aws, tmp_path), delete_ledger=True)
    assert removed[-1] == "Destroyed 66 resources."
    assert {"deleted   event archive feedmyfurbabies-ledger", "deleted   event bus feedmyfurbabies"} < set(
        removed
    )
    assert all(not found for found in remaining_resources(aws).values()), remaining_resources(aws)
    assert run(deploy.destroy, env_for(aws, tmp_path)) == ["Nothing to destroy."]


def cli(aws, tmp_path, *args, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "cloud.aws.deploy", *args, "--endpoint-url", aws, "--region", REGION]
        + ["--out", str(tmp_path)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deleting_the_ledger_needs_its_name_typed_or_yes(aws, tmp_path):
    run(deploy.apply, env_for(aws, tmp_path))
    refused = cli(aws, tmp_path, "destroy", "--delete-ledger", stdin="yes\n")
    assert refused.returncode == 1 and "Not confirmed: nothing deleted." in refused.stderr
    assert len(remaining_resources(aws)["functions"]) == 6  # nothing at all was deleted

    confirmed = cli(aws, tmp_path, "destroy", "--delete-ledger", stdin="feedmyfurbabies-ledger\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "deleted   event archive feedmyfurbabies-ledger" in confirmed.stdout
    assert all(not found for found in remaining_resources(aws).values())

    run(deploy.apply, env_for(aws, tmp_path))
    scripted = cli(aws, tmp_path, "destroy", "--delete-ledger", "--yes")
    assert scripted.returncode == 0 and scripted.stdout.splitlines()[-1] == "Destroyed 66 resources."


def test_deploy_writes_device_credentials_and_wires_the_topology(aws, tmp_path):
    run(deploy.apply, env_for(aws, tmp_path))
    folder = tmp_path / "cat-feeder"
    device = json.loads((folder / "device.json").read_text())
    assert device["endpoint"].endswith("-ats.iot.%s.amazonaws.com" % REGION)
    assert device["root_ca"]["name"] == "AmazonRootCA1"
    assert (folder / device["certificate"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    key = folder / device["key"]
    assert "PRIVATE KEY" in key.read_text()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600

    client = lambda service: boto3.client(service, endpoint_url=aws, region_name=REGION)  # noqa: E731
    iot = client("iot")
    principals = iot.list_thing_principals(thingName="cat-feeder")["principals"]
    assert [p.rsplit("/", 1)[-1] for p in principals] == [device["certificate_id"]]
    attached = iot.list_attached_policies(target=principals[0])["policies"]
    assert sorted(p["policyName"] for p in attached) == ["cat-feeder-device", "cat-feeder-device-jobs"]
    document = iot.get_policy(policyName="cat-feeder-device")["policyDocument"]
    assert "client/${iot:Connection.Thing.ThingName}" in document
    assert "topic/cat-feeder/${iot:Connection.Thing.ThingName}/button" in document

    events = client("events")
    feeds = events.describe_rule(Name="feeds", EventBusName="feedmyfurbabies")
    assert json.loads(feeds["EventPattern"])["replay-name"] == [{"exists": False}]
    (target,) = events.list_targets_by_rule(Rule="feeds", EventBusName="feedmyfurbabies")["Targets"]
    assert target["Arn"].endswith(":function:feedmyfurbabies-feeder")
    assert target["DeadLetterConfig"]["Arn"].endswith(":feedmyfurbabies-feeds-failed")
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 300}
    feeder = client("lambda").get_function(FunctionName="feedmyfurbabies-feeder")["Configuration"]
    assert feeder["Environment"]["Variables"]["IOT_DATA_ENDPOINT"] == "https://" + device["endpoint"]
    invoke_config = client("lambda").get_function_event_invoke_config(FunctionName="feedmyfurbabies-feeder")
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        ":feedmyfurbabies-feeds-failed"
    )
    groups = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert {(g["logGroupName"], g["retentionInDays"]) for g in groups} == {
        ("/aws/lambda/feedmyfurbabies-button", 30),
        ("/aws/lambda/feedmyfurbabies-feeder", 30),
        ("/aws/lambda/feedmyfurbabies-states", 30),
        ("/aws/lambda/feedmyfurbabies-projector", 30),
        ("/aws/lambda/feedmyfurbabies-schedules", 30),
        ("/aws/lambda/feedmyfurbabies-alerts", 30),
    }
    rule = iot.get_topic_rule(ruleName="cat_feeder_button")["rule"]
    assert rule["sql"] == "SELECT v, event, at, seq, topic(2) AS thing FROM 'cat-feeder/+/button'"
    assert rule["actions"][0]["lambda"]["functionArn"].endswith(":function:feedmyfurbabies-button")
    # A press IoT Core could not hand to the button function is parked, not lost.
    assert rule["errorAction"] == {
        "sqs": {
            "roleArn": "arn:aws:iam::123456789012:role/feedmyfurbabies-topic-rules-role",
            "queueUrl": "https://sqs.%s.amazonaws.com/123456789012/feedmyfurbabies-presses-failed" % REGION,
            "useBase64": False,
        }
    }
    role = client("iam").get_role(RoleName="feedmyfurbabies-topic-rules-role")["Role"]
    (trusted,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trusted["Principal"] == {"Service": "iot.amazonaws.com"}
    button_config = client("lambda").get_function_event_invoke_config(FunctionName="feedmyfurbabies-button")
    assert button_config["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        ":feedmyfurbabies-presses-failed"
    )


def test_plan_cli_runs_against_the_endpoint(aws, tmp_path):
    result = cli(aws, tmp_path, "plan")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "Plan: 66 to create, 0 to update, 0 unchanged."


def test_functions_and_their_permissions_exist_before_anything_invokes_them(aws, tmp_path):
    calls = []
    aws_env = AwsEnv(region=REGION, endpoint_url=aws)
    # Registered before any client exists: each client copies the session's handlers when created.
    aws_env.session.events.register(
        "before-parameter-build", lambda model, params, **kwargs: calls.append((model.name, params))
    )
    run(deploy.apply, deploy.DeployEnv(aws_env, out_dir=tmp_path))

    def first(operation, after=-1, **params):
        return next(
            i
            for i, (name, sent) in enumerate(calls)
            if i > after and name == operation and all(sent.get(k) == v for k, v in params.items())
        )

    for function in TOPOLOGY["functions"].values():
        created = first("CreateFunction", FunctionName=function["name"])
        assert first("CreateLogGroup", logGroupName="/aws/lambda/" + function["name"]) < created
        # botocore's function_active_v2 waiter polls GetFunction before anything else touches it.
        assert first("GetFunction", after=created, FunctionName=function["name"]) == created + 1
    permissions = {
        principal: first("AddPermission", Principal=principal)
        for principal in ("events.amazonaws.com", "iot.amazonaws.com")
    }
    assert (
        first("CreateFunction", FunctionName="feedmyfurbabies-feeder") < permissions["events.amazonaws.com"]
    )
    assert first("PutFunctionEventInvokeConfig") < first("PutTargets")
    assert permissions["events.amazonaws.com"] < first("PutTargets", Rule="feeds")
    assert permissions["iot.amazonaws.com"] < first("CreateTopicRule")


def test_a_function_without_its_own_log_retention_gets_the_default():
    topology = copy.deepcopy(TOPOLOGY)
    del topology["functions"]["button"]["log_retention_days"]
    topology["functions"]["feeder"]["log_retention_days"] = 7
    env = SimpleNamespace(topology=topology)
    assert LogGroup(env, "button").desired() == {"retention_days": LOG_RETENTION_DAYS}
    assert LogGroup(env, "feeder").desired() == {"retention_days": 7}
