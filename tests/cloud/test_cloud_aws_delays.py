"""AWS's documented delays, which moto does not have, on botocore's Stubber with an injected clock:
each wait retries, is logged and is bounded, and no test sleeps for real."""

import pytest
from botocore.stub import ANY

from cloud.aws import resources
from cloud.aws.waiting import WaitTimedOut
from cloud.topology import TOPOLOGY
from tests.cloud.envs import ACCOUNT, REGION, stubbed_env

CERTIFICATE_ID = "c" * 64
CERTIFICATE_ARN = "arn:aws:iot:%s:%s:cert/%s" % (REGION, ACCOUNT, CERTIFICATE_ID)


def test_destroy_waits_for_the_thing_detach_to_propagate_before_deleting_the_certificate(fake_time, tmp_path):
    lines = []
    env, stubs = stubbed_env(fake_time, tmp_path, lines, iot="iot")
    iot = stubs["iot"]
    iot.add_response("list_thing_principals", {"principals": [CERTIFICATE_ARN]}, {"thingName": "cat-feeder"})
    iot.add_response(
        "list_attached_policies",
        {"policies": [{"policyName": "cat-feeder-device"}]},
        {"target": CERTIFICATE_ARN},
    )
    iot.add_response("detach_policy", {}, {"policyName": "cat-feeder-device", "target": CERTIFICATE_ARN})
    iot.add_response("list_principal_things", {"things": ["cat-feeder"]}, {"principal": CERTIFICATE_ARN})
    iot.add_response("detach_thing_principal", {}, {"thingName": "cat-feeder", "principal": CERTIFICATE_ARN})
    # "DetachThingPrincipal is asynchronous": the thing is still listed twice after the call.
    for things in (["cat-feeder"], ["cat-feeder"], []):
        iot.add_response("list_principal_things", {"things": things}, {"principal": CERTIFICATE_ARN})
    iot.add_response("update_certificate", {}, {"certificateId": CERTIFICATE_ID, "newStatus": "INACTIVE"})
    iot.add_client_error("delete_certificate", "DeleteConflictException", "still attached", 409)
    iot.add_response("delete_certificate", {}, {"certificateId": CERTIFICATE_ID})

    resources.DeviceCertificate(env, TOPOLOGY["things"][0]).delete()

    iot.assert_no_pending_responses()
    assert fake_time.slept == [1, 2, 1]  # two polls of the detach, one retry of the delete
    assert lines[0].startswith(
        "  waiting for certificate %s to be detached from thing cat-feeder: attempt 1" % CERTIFICATE_ID
    )
    assert "  certificate %s to be deletable: done after 2 attempts" % CERTIFICATE_ID in lines


def test_a_policy_is_deleted_once_aws_lets_it_within_five_minutes_else_the_wait_says_so(fake_time, tmp_path):
    lines = []
    env, stubs = stubbed_env(fake_time, tmp_path, lines, iot="iot")
    policy = resources.IotPolicy(env, TOPOLOGY["iot_policies"][0])
    iot = stubs["iot"]

    def expect_delete(conflicts, then_ok=True):
        iot.add_response("list_targets_for_policy", {"targets": []}, {"policyName": "cat-feeder-device"})
        iot.add_response(
            "list_policy_versions",
            {"policyVersions": [{"versionId": "1", "isDefaultVersion": True}]},
            {"policyName": "cat-feeder-device"},
        )
        for _ in range(conflicts):
            iot.add_client_error("delete_policy", "DeleteConflictException", "detached recently", 409)
        if then_ok:
            iot.add_response("delete_policy", {}, {"policyName": "cat-feeder-device"})

    expect_delete(conflicts=3)
    policy.delete()
    assert fake_time.slept == [1, 2, 4]

    fake_time.slept.clear()
    expect_delete(conflicts=40, then_ok=False)
    with pytest.raises(WaitTimedOut, match="iot policy cat-feeder-device to be deletable .* after 330 s"):
        policy.delete()
    assert sum(fake_time.slept) == 330  # bounded: gives up at the deadline, not later
    assert "  iot policy cat-feeder-device to be deletable after its detach: done after 4 attempts" in lines
    assert lines[-1].startswith("  waiting for iot policy cat-feeder-device to be deletable after its detach")


def test_deploy_after_destroy_waits_while_sqs_forbids_the_queue_name(fake_time, tmp_path):
    lines = []
    env, stubs = stubbed_env(fake_time, tmp_path, lines, sqs="sqs")
    queue = resources.Queue(env, "presses_failed")
    create = {"QueueName": "feedmyfurbabies-presses-failed", "Attributes": ANY}
    for _ in range(4):
        stubs["sqs"].add_client_error(
            "create_queue", "QueueDeletedRecently", "wait 60 seconds", 400, expected_params=create
        )
    stubs["sqs"].add_response("create_queue", {"QueueUrl": "https://example/q"}, create)

    queue.create()

    stubs["sqs"].assert_no_pending_responses()
    assert fake_time.slept == [1, 2, 4, 8]
    assert lines[0] == (
        "  waiting for queue name feedmyfurbabies-presses-failed: SQS refuses it for 60 s after a queue of"
        " that name was deleted: attempt 1, next in 1 s, giving up in 90 s"
    )


def describe(status):
    return {
        "Table": {
            "TableName": "feedmyfurbabies-history",
            "TableStatus": status,
            "KeySchema": resources.Table.KEY,
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        }
    }


def test_a_table_still_deleting_is_absent_once_gone_and_a_new_one_is_ready_before_use(fake_time, tmp_path):
    """Deploy right after destroy: DynamoDB still describes the table (DELETING); it is waited for, planned as
    a create, and the created table is waited for until ACTIVE (botocore's table waiters)."""
    env, stubs = stubbed_env(fake_time, tmp_path, dynamodb="dynamodb")
    dynamodb, name = stubs["dynamodb"], {"TableName": "feedmyfurbabies-history"}
    dynamodb.add_response("describe_table", describe("DELETING"), name)
    dynamodb.add_client_error(
        "describe_table", "ResourceNotFoundException", "gone", 400, expected_params=name
    )
    table = resources.Table(env, "feedmyfurbabies-history")
    assert table.read() is None
    dynamodb.add_response(
        "create_table",
        {"TableDescription": describe("CREATING")["Table"]},
        dict(name, AttributeDefinitions=ANY, KeySchema=ANY, BillingMode="PAY_PER_REQUEST"),
    )
    dynamodb.add_response("describe_table", describe("ACTIVE"), name)
    table.create()
    dynamodb.assert_no_pending_responses()
