"""`make deploy` of a household (cloud/household.py) against moto's server: a thing, certificate and role
policy per feeder and button, then a feeder dropped from the file: `make plan` shows its removal, deploy
refuses it unless confirmed, and removes it (its certificate with it) when confirmed. Each thing's access
is its deployed policy evaluated as IoT Core does (moto stores policies and never evaluates them), with the
thing-name variable: tests/strict_aws/iot.py policy_allows."""

import json
import os
import subprocess
import sys

import boto3
import pytest

from cloud import household
from cloud.aws import deploy
from cloud.aws.resources.iot import ThingNotManaged
from cloud.topology import action_topic, button_topic, states_topic
from tests.cloud.envs import ACCOUNT, REGION, env_for, run
from tests.makerun import make, own_lines
from tests.strict_aws.iot import policy_allows

KITCHEN = {"thing": "kitchen", "name": "Kitchen"}
BEDROOM = {"thing": "bedroom", "name": "Bedroom"}
HALL = {"thing": "hall-button", "name": "Hall", "role": "button", "feeds": "kitchen"}
HOUSEHOLD = {"things": [KITCHEN, BEDROOM, HALL]}
WITHOUT_BEDROOM = {"things": [KITCHEN, HALL]}
IOT = "arn:aws:iot:%s:%s:" % (REGION, ACCOUNT)
# The topology's resources with the single default thing, and the two each further thing adds.
DEFAULT_COUNT = 66  # 40, the schedules (issue 20) 9, the alerts (issue 21) 13, the jobs policy (issue 23) 1,
# the releases bucket, the job outcomes rule and its invoke permission (issue 23) 3
PER_THING = 2  # its thing and its certificate


def topology(document):
    return household.topology(household.validate(document))


def iot(url):
    return boto3.client("iot", endpoint_url=url, region_name=REGION)


def things(url):
    """{thing: (attributes, [(certificate id, [policy names])])} of every thing in the account."""
    client, found = iot(url), {}

    def policies(principal):
        return [each["policyName"] for each in client.list_attached_policies(target=principal)["policies"]]

    for thing in client.list_things()["things"]:
        principals = client.list_thing_principals(thingName=thing["thingName"])["principals"]
        certificates = [(principal.rsplit("/", 1)[-1], policies(principal)) for principal in principals]
        found[thing["thingName"]] = (thing["attributes"], certificates)
    return found


def write_household(tmp_path, document):
    path = tmp_path / "household.json"
    path.write_text(json.dumps(document))
    return path


def cli(aws, tmp_path, command, household_path, **environment):
    return subprocess.run(
        [sys.executable, "-m", "cloud.aws.deploy", command, "--household", str(household_path)]
        + ["--endpoint-url", aws, "--region", REGION, "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
        # Only the confirmation the test gives: not one the shell running the tests may export.
        env=dict({k: v for k, v in os.environ.items() if k != "CONFIRM"}, **environment),
    )


@pytest.fixture
def deployed(aws, tmp_path):
    """The household of two feeders and a button, deployed."""
    applied = run(deploy.apply, env_for(aws, tmp_path / "out", topology(HOUSEHOLD)))
    assert applied[-1] == "Applied %d changes." % (DEFAULT_COUNT + 2 * PER_THING)
    return things(aws)


def test_each_feeder_and_button_gets_its_marked_thing_its_certificate_and_its_roles_policy(
        aws, tmp_path, deployed):
    assert {name: attributes for name, (attributes, _) in deployed.items()} == {
        "kitchen": {"managed-by": "cat-feeder", "role": "feeder"},
        "bedroom": {"managed-by": "cat-feeder", "role": "feeder"},
        "hall-button": {"managed-by": "cat-feeder", "role": "button"},
    }
    for name, (_, certificates) in deployed.items():
        (certificate, policies), = certificates
        feeder = ["cat-feeder-device", "cat-feeder-device-jobs"]
        assert sorted(policies) == (["cat-feeder-button"] if name == "hall-button" else feeder)
        device = json.loads((tmp_path / "out" / name / "device.json").read_text())
        assert (device["thing"], device["certificate_id"]) == (name, certificate)
    assert run(deploy.plan, env_for(aws, tmp_path / "out", topology(HOUSEHOLD))) == [
        "Nothing to change: %d resources up to date." % (DEFAULT_COUNT + 2 * PER_THING)]


def deployed_policy(url, thing):
    """The policies attached to thing's certificate, as deployed, as one document (IoT Core allows what
    any of them allows; a feeder has its jobs policy beside the device policy)."""
    client = iot(url)
    (principal,) = client.list_thing_principals(thingName=thing)["principals"]
    statements = []
    for policy in client.list_attached_policies(target=principal)["policies"]:
        document = client.get_policy(policyName=policy["policyName"])["policyDocument"]
        statements += json.loads(document)["Statement"]
    return {"Version": "2012-10-17", "Statement": statements}


def allowed(document, thing, action, resource):
    return policy_allows(document, action, IOT + resource, thing)


# What feeder A (kitchen) must not do to feeder B (bedroom) or the button, and what a button must not do.
NOT_FOR_FEEDER_A = [
    ("iot:Subscribe", "topicfilter/" + action_topic("bedroom")),
    ("iot:Receive", "topic/" + action_topic("bedroom")),
    ("iot:Publish", "topic/" + states_topic("bedroom")),
    ("iot:RetainPublish", "topic/" + states_topic("bedroom")),
    ("iot:Publish", "topic/" + button_topic("bedroom")),
    ("iot:Publish", "topic/" + button_topic("hall-button")),
    ("iot:Connect", "client/bedroom"),
    ("iot:Subscribe", "topicfilter/cat-feeder/+/action"),
    ("iot:Subscribe", "topicfilter/cat-feeder/#"),
    ("iot:Publish", "topic/" + action_topic("kitchen")),  # commands are the cloud's to send
]
FEEDER_A_OWN = {
    ("iot:Connect", "client/kitchen"),
    ("iot:Subscribe", "topicfilter/" + action_topic("kitchen")),
    ("iot:Receive", "topic/" + action_topic("kitchen")),
    ("iot:Publish", "topic/" + states_topic("kitchen")),
    ("iot:RetainPublish", "topic/" + states_topic("kitchen")),
    ("iot:Publish", "topic/" + button_topic("kitchen")),
}
NOT_FOR_A_BUTTON = [
    ("iot:Subscribe", "topicfilter/" + action_topic("hall-button")),
    ("iot:Subscribe", "topicfilter/" + action_topic("kitchen")),
    ("iot:Subscribe", "topicfilter/cat-feeder/+/action"),
    ("iot:Receive", "topic/" + action_topic("hall-button")),
    ("iot:Receive", "topic/" + action_topic("kitchen")),
    ("iot:Publish", "topic/" + states_topic("hall-button")),
    ("iot:RetainPublish", "topic/" + states_topic("hall-button")),
    ("iot:Publish", "topic/" + button_topic("kitchen")),
    ("iot:Publish", "topic/" + action_topic("kitchen")),
    ("iot:Connect", "client/kitchen"),
]


def test_each_things_deployed_policy_grants_it_its_own_topics_and_nothing_of_another_thing(aws, deployed):
    kitchen, button = deployed_policy(aws, "kitchen"), deployed_policy(aws, "hall-button")
    assert [case for case in NOT_FOR_FEEDER_A if allowed(kitchen, "kitchen", *case)] == []
    assert {case for case in FEEDER_A_OWN if allowed(kitchen, "kitchen", *case)} == FEEDER_A_OWN
    # The same policy, as feeder B connects with it: B's own topics, not A's.
    assert {case for case in FEEDER_A_OWN if allowed(kitchen, "bedroom", *case)} == set()
    assert [case for case in NOT_FOR_A_BUTTON if allowed(button, "hall-button", *case)] == []
    assert allowed(button, "hall-button", "iot:Connect", "client/hall-button")
    assert allowed(button, "hall-button", "iot:Publish", "topic/" + button_topic("hall-button"))


def test_a_feeder_dropped_from_the_file_is_planned_refused_unconfirmed_and_removed_when_confirmed(
        aws, tmp_path, deployed):
    path = write_household(tmp_path, WITHOUT_BEDROOM)
    arguments = "--endpoint-url %s --region %s --out %s" % (aws, REGION, tmp_path / "out")
    planned = make("plan", "HOUSEHOLD=%s" % path, "DEPLOY_ARGS=" + arguments)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines() == [
        # moto answers DescribeEndpoint with a new address in every process (tests/cloud/envs.py), so the
        # feeder's and the schedules function's IOT_DATA_ENDPOINT differs from the one the fixture deployed;
        # on AWS it is the same. The alerts function's settings name the household's feeders: one fewer.
        "update    lambda function feedmyfurbabies-feeder (configuration)",
        "update    lambda function feedmyfurbabies-schedules (configuration)",
        "update    lambda function feedmyfurbabies-alerts (configuration)",
        "remove    iot thing bedroom (revokes its certificate)",
        "Plan: 0 to create, 3 to update, 1 to remove, %d unchanged." % (DEFAULT_COUNT + PER_THING - 3),
    ]

    refused = cli(aws, tmp_path, "apply", path)
    assert refused.returncode == 1
    assert own_lines(refused.stderr) == [
        "deploy: removing iot thing bedroom revokes its certificate: confirm with CONFIRM=remove (or type it"
        " when asked); nothing changed"]
    assert things(aws) == deployed  # nothing at all changed

    removed = cli(aws, tmp_path, "apply", path, CONFIRM="remove")
    assert removed.returncode == 0, removed.stderr
    out = tmp_path / "out"
    assert removed.stdout.splitlines()[1:] == [  # the feeder's update first, as planned
        "update    lambda function feedmyfurbabies-schedules (configuration)",
        "update    lambda function feedmyfurbabies-alerts (configuration)",
        "remove    iot thing bedroom (revokes its certificate)",
        "Applied 4 changes.",
        "Thing kitchen: certificate, key and endpoint in %s/kitchen/ (device.crt.pem, device.key.pem, "
        "device.json)." % out,
        "Thing hall-button: certificate, key and endpoint in %s/hall-button/ (device.crt.pem, "
        "device.key.pem, device.json)." % out,
        "Next, for each board: make flash PORT=/dev/ttyACM0 THING=<thing> CERTS=%s/<thing>" % out,
    ]
    left = things(aws)
    assert left == {name: deployed[name] for name in ("kitchen", "hall-button")}  # their certificates kept
    (bedroom_certificate, _), = deployed["bedroom"][1]
    certificates = iot(aws).list_certificates()["certificates"]
    assert bedroom_certificate not in {certificate["certificateId"] for certificate in certificates}
    assert not (tmp_path / "out" / "bedroom").exists()
    again = run(deploy.plan, env_for(aws, tmp_path / "out", topology(WITHOUT_BEDROOM)))
    assert [line for line in again if "iot" in line or "remove" in line] == []  # (and moto's endpoint again)


def test_removal_is_confirmed_by_the_environment_or_by_remove_typed_at_a_terminal():
    removals = [type("Removal", (), {"label": "iot thing bedroom"})()]
    lines = []

    def confirmed(environ=None, interactive=True, answer="remove"):
        def ask(prompt):
            lines.append(prompt)
            if answer is None:
                raise EOFError
            return answer

        return deploy.removal_confirmed(
            removals, environ=environ or {}, interactive=interactive, ask=ask, out=lines.append)

    assert confirmed(environ={"CONFIRM": "remove"}, interactive=False)
    assert not confirmed(interactive=False)  # no terminal to ask: refused, never assumed
    assert lines == []
    assert confirmed(answer=" remove\n")
    assert lines == [
        "The household file no longer names iot thing bedroom: deploy revokes and deletes its certificate,"
        " and no board can connect with it again.",
        "Type remove to confirm: ",
    ]
    assert not confirmed(answer="yes") and not confirmed(answer=None)


def test_a_thing_the_deployer_did_not_create_is_never_touched(aws, tmp_path):
    client = iot(aws)
    client.create_thing(thingName="bedroom")  # someone else's, no marker
    client.create_thing(thingName="garage-sensor", attributePayload={"attributes": {"role": "feeder"}})
    path = write_household(tmp_path, HOUSEHOLD)
    refused = cli(aws, tmp_path, "apply", path)
    assert refused.returncode == 1
    assert own_lines(refused.stderr) == [
        "deploy: iot thing bedroom exists but this deployer did not create it (no attribute"
        " managed-by=cat-feeder): name the board otherwise in the household file"]
    assert {t["thingName"] for t in client.list_things()["things"]} == {"bedroom", "garage-sensor"}

    run(deploy.apply, env_for(aws, tmp_path / "out", topology(WITHOUT_BEDROOM)))
    with pytest.raises(ThingNotManaged, match="^iot thing bedroom exists but"):  # before deleting anything
        run(deploy.destroy, env_for(aws, tmp_path / "out", topology(HOUSEHOLD)))
    assert len(things(aws)["kitchen"][1]) == 1 and iot(aws).list_topic_rules()["rules"]
    destroyed = run(deploy.destroy, env_for(aws, tmp_path / "out", topology(WITHOUT_BEDROOM)))
    assert "deleted   iot thing kitchen" in destroyed and "deleted   iot thing hall-button" in destroyed
    assert {t["thingName"] for t in client.list_things()["things"]} == {"bedroom", "garage-sensor"}


def test_a_role_changed_in_the_file_swaps_the_policy_and_destroy_removes_an_earlier_households_things(
        aws, tmp_path, deployed):
    changed = {"things": [KITCHEN, dict(BEDROOM, role="button", feeds="kitchen"), HALL]}
    env = env_for(aws, tmp_path / "out", topology(changed))
    planned = run(deploy.plan, env)
    assert "update    iot thing bedroom (attributes)" in planned
    assert "update    iot certificate of thing bedroom (policies)" in planned
    run(deploy.apply, env)
    attributes, [(certificate, policies)] = things(aws)["bedroom"]
    assert attributes["role"] == "button" and policies == ["cat-feeder-button"]
    assert certificate == deployed["bedroom"][1][0][0]  # the same certificate: the board keeps working

    # Destroy with a file that no longer names bedroom: the earlier household's thing goes too, first.
    destroyed = run(deploy.destroy, env_for(aws, tmp_path / "out", topology(WITHOUT_BEDROOM)))
    assert destroyed[0] == "deleted   iot thing bedroom"
    assert things(aws) == {} and iot(aws).list_certificates()["certificates"] == []
