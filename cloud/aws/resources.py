"""One reconciler per kind of AWS resource the deployer manages.

Each resource reads its current state as a small comparable dict (None when absent), knows its
desired state from cloud/topology.py, and can create, update and delete itself. The deployer only
compares the two dicts, so `plan`, `apply` and a no-op second `apply` share one code path.
"""

import contextlib
import json

from cloud.aws import iam
from cloud.aws.credentials import DeviceFolder
from cloud.aws.errors import absent_on_not_found
from cloud.aws.packaging import code_sha256, handler_zip
from cloud.aws.waiting import codes
from cloud.topology import LOG_RETENTION_DAYS

LAMBDA_RUNTIME = "python3.12"
ROLE_POLICY_NAME = "least-privilege"
IOT_SQL_VERSION = "2016-03-23"
IOT_POLICY_VERSIONS_MAX = 5
# IAM is eventually consistent: a role created seconds ago may not be assumable by Lambda yet.
ROLE_PROPAGATION_TIMEOUT_S = 60
# AWS documents "several seconds" for DetachThingPrincipal and "up to five minutes" after DetachPolicy.
DETACH_PROPAGATION_TIMEOUT_S = 120
POLICY_DETACH_TIMEOUT_S = 330
# SQS refuses a queue name for 60 s after the queue with that name was deleted.
QUEUE_NAME_REUSE_TIMEOUT_S = 90


def canonical(document):
    """Policy documents and event patterns come back as JSON strings or dicts; compare canonical forms."""
    if document is None:
        return None
    return iam.dumps(json.loads(document) if isinstance(document, str) else document)


class Resource:
    kind = "resource"
    service = ""  # the AWS service (and IAM action prefix) of every call the resource makes
    ledger = False  # part of the immutable history: destroy keeps it unless told otherwise

    def __init__(self, env, name):
        self.env, self.name = env, name

    @property
    def label(self):
        return "%s %s" % (self.kind, self.name)

    def read(self):
        return absent_on_not_found(self.service, self.read_existing)

    def read_existing(self):
        raise NotImplementedError

    def desired(self):
        raise NotImplementedError

    def create(self):
        raise NotImplementedError

    def update(self, current):
        self.create()

    def delete(self):
        raise NotImplementedError


class Queue(Resource):
    kind = "sqs queue"
    service = "sqs"

    def __init__(self, env, key):
        super().__init__(env, env.topology["queues"][key]["name"])
        self.key = key

    def read_existing(self):
        url = self.env.sqs.get_queue_url(QueueName=self.name)["QueueUrl"]
        names = ["MessageRetentionPeriod", "Policy"]
        attributes = self.env.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return {
            "retention_s": int(attributes["MessageRetentionPeriod"]),
            "policy": canonical(attributes.get("Policy")),
        }

    def desired(self):
        policy = iam.queue_policy(self.env.topology, self.key, self.env.arns)
        return {
            "retention_s": self.env.topology["queues"][self.key]["retention_s"],
            "policy": canonical(policy),
        }

    def _attributes(self):
        desired = self.desired()
        attributes = {"MessageRetentionPeriod": str(desired["retention_s"])}
        if desired["policy"]:
            attributes["Policy"] = desired["policy"]
        return attributes

    def create(self):
        self.env.waiting.retrying(
            "queue name %s: SQS refuses it for 60 s after a queue of that name was deleted" % self.name,
            lambda: self.env.sqs.create_queue(QueueName=self.name, Attributes=self._attributes()),
            retry_if=codes("QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently"),
            timeout_s=QUEUE_NAME_REUSE_TIMEOUT_S,
        )

    def update(self, current):
        url = self.env.sqs.get_queue_url(QueueName=self.name)["QueueUrl"]
        self.env.sqs.set_queue_attributes(QueueUrl=url, Attributes=self._attributes())

    def delete(self):
        self.env.sqs.delete_queue(QueueUrl=self.env.sqs.get_queue_url(QueueName=self.name)["QueueUrl"])


class Role(Resource):
    """A role one AWS service assumes, with one inline least-privilege policy."""

    kind = "iam role"
    service = "iam"

    def __init__(self, env, name, principal, policy, description):
        """policy: () -> the policy document, built when needed (ARNs need the account)."""
        super().__init__(env, name)
        self.principal, self.policy, self.description = principal, policy, description

    @classmethod
    def of_function(cls, env, function_key):
        return cls(
            env,
            iam.role_name(env.topology["functions"][function_key]),
            "lambda.amazonaws.com",
            lambda: iam.function_policy(env.topology, function_key, env.arns),
            "Execution role of one cat feeder function",
        )

    @classmethod
    def of_topic_rules(cls, env):
        return cls(
            env,
            env.topology["topic_rules_role"]["name"],
            "iot.amazonaws.com",
            lambda: iam.topic_rules_policy(env.topology, env.arns),
            "Assumed by IoT Core for the cat feeder's topic rule actions",
        )

    def read_existing(self):
        role = self.env.iam.get_role(RoleName=self.name)["Role"]
        policy = absent_on_not_found(
            "iam",
            lambda: self.env.iam.get_role_policy(RoleName=self.name, PolicyName=ROLE_POLICY_NAME)[
                "PolicyDocument"
            ],
        )
        return {"trust": canonical(role["AssumeRolePolicyDocument"]), "policy": canonical(policy)}

    def desired(self):
        return {
            "trust": canonical(iam.trust_policy(self.env.arns, self.principal)),
            "policy": canonical(self.policy()),
        }

    def create(self):
        desired = self.desired()
        self.env.iam.create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=desired["trust"],
            Description=self.description,
        )
        self.env.iam.put_role_policy(
            RoleName=self.name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=desired["policy"]
        )

    def update(self, current):
        desired = self.desired()
        self.env.iam.update_assume_role_policy(RoleName=self.name, PolicyDocument=desired["trust"])
        self.env.iam.put_role_policy(
            RoleName=self.name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=desired["policy"]
        )

    def delete(self):
        absent_on_not_found(
            "iam", lambda: self.env.iam.delete_role_policy(RoleName=self.name, PolicyName=ROLE_POLICY_NAME)
        )
        self.env.iam.delete_role(RoleName=self.name)


class LogGroup(Resource):
    """A function's log group, created before the function so Lambda never creates one without retention."""

    kind = "log group"
    service = "logs"

    def __init__(self, env, function_key):
        self.spec = env.topology["functions"][function_key]
        super().__init__(env, iam.log_group_name(self.spec["name"]))

    def read_existing(self):
        found = self.env.logs.describe_log_groups(logGroupNamePrefix=self.name)["logGroups"]
        for group in found:
            if group["logGroupName"] == self.name:
                return {"retention_days": group.get("retentionInDays")}
        return None

    def desired(self):
        return {"retention_days": self.spec.get("log_retention_days", LOG_RETENTION_DAYS)}

    def create(self):
        self.env.logs.create_log_group(logGroupName=self.name)
        self.update(None)

    def update(self, current):
        self.env.logs.put_retention_policy(
            logGroupName=self.name, retentionInDays=self.desired()["retention_days"]
        )

    def delete(self):
        self.env.logs.delete_log_group(logGroupName=self.name)


class Function(Resource):
    kind = "lambda function"
    service = "lambda"

    def __init__(self, env, key):
        self.spec = env.topology["functions"][key]
        super().__init__(env, self.spec["name"])
        self.package = handler_zip(self.spec["module"], self.spec.get("shared", ()))

    def read_existing(self):
        config = self.env.lambda_.get_function(FunctionName=self.name)["Configuration"]
        return {
            "code_sha256": config["CodeSha256"],
            "configuration": {
                "Runtime": config.get("Runtime"),
                "Handler": config.get("Handler"),
                "Role": config.get("Role"),
                "Description": config.get("Description", ""),
                "MemorySize": config.get("MemorySize"),
                "Timeout": config.get("Timeout"),
                "Environment": {"Variables": config.get("Environment", {}).get("Variables", {})},
            },
        }

    def desired(self):
        variables = dict(self.spec["environment"])
        for variable, ref in self.spec["environment_refs"].items():
            variables[variable] = self.env.environment_value(ref)
        return {
            "code_sha256": code_sha256(self.package),
            "configuration": {
                "Runtime": LAMBDA_RUNTIME,
                "Handler": self.spec["module"] + ".handler",
                "Role": self.env.arns.role(iam.role_name(self.spec)),
                "Description": self.spec["description"],
                "MemorySize": self.spec["memory_mb"],
                "Timeout": self.spec["timeout_s"],
                "Environment": {"Variables": variables},
            },
        }

    def create(self):
        configuration = self.desired()["configuration"]
        self.env.waiting.retrying(
            "role %s to be assumable by Lambda" % configuration["Role"],
            lambda: self.env.lambda_.create_function(
                FunctionName=self.name, Code={"ZipFile": self.package}, Publish=False, **configuration
            ),
            retry_if=lambda error: "cannot be assumed" in str(error),
            timeout_s=ROLE_PROPAGATION_TIMEOUT_S,
        )
        # A new function is Pending for a while: nothing is pointed at it before it is Active.
        self.env.lambda_.get_waiter("function_active_v2").wait(FunctionName=self.name)

    def update(self, current):
        desired = self.desired()
        waiter = self.env.lambda_.get_waiter("function_updated_v2")
        if current["configuration"] != desired["configuration"]:
            self.env.lambda_.update_function_configuration(FunctionName=self.name, **desired["configuration"])
            waiter.wait(FunctionName=self.name)
        if current["code_sha256"] != desired["code_sha256"]:
            self.env.lambda_.update_function_code(FunctionName=self.name, ZipFile=self.package)
            waiter.wait(FunctionName=self.name)

    def delete(self):
        self.env.lambda_.delete_function(FunctionName=self.name)


class FunctionAsyncConfig(Resource):
    kind = "lambda async config"
    service = "lambda"

    def __init__(self, env, key):
        self.spec = env.topology["functions"][key]
        super().__init__(env, self.spec["name"])

    def read_existing(self):
        config = self.env.lambda_.get_function_event_invoke_config(FunctionName=self.name)
        return {
            "MaximumRetryAttempts": config.get("MaximumRetryAttempts"),
            "MaximumEventAgeInSeconds": config.get("MaximumEventAgeInSeconds"),
            "DestinationConfig": {"OnFailure": config.get("DestinationConfig", {}).get("OnFailure", {})},
        }

    def desired(self):
        settings = self.spec["async"]
        return {
            "MaximumRetryAttempts": settings["max_retries"],
            "MaximumEventAgeInSeconds": settings["max_event_age_s"],
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": self.env.arns.queue(self.env.topology, settings["on_failure_queue"])
                }
            },
        }

    def create(self):
        self.env.lambda_.put_function_event_invoke_config(FunctionName=self.name, **self.desired())

    def delete(self):
        self.env.lambda_.delete_function_event_invoke_config(FunctionName=self.name)


class InvokePermission(Resource):
    """Resource-policy statement letting one service principal, from one source ARN, invoke a function."""

    kind = "lambda permission"
    service = "lambda"

    def __init__(self, env, function_key, principal, source_arn):
        self.function_name = env.topology["functions"][function_key]["name"]
        self.statement_id = "%s-%s" % (principal.split(".")[0], source_arn.rsplit("/", 1)[-1])
        super().__init__(env, "%s/%s" % (self.function_name, self.statement_id))
        self.principal, self.source_arn = principal, source_arn

    def read_existing(self):
        policy = json.loads(self.env.lambda_.get_policy(FunctionName=self.function_name)["Policy"])
        for statement in policy["Statement"]:
            if statement.get("Sid") == self.statement_id:
                return {
                    "principal": statement["Principal"].get("Service"),
                    "source_arn": statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn"),
                }
        return None

    def desired(self):
        return {"principal": self.principal, "source_arn": self.source_arn}

    def create(self):
        self.env.lambda_.add_permission(
            FunctionName=self.function_name,
            StatementId=self.statement_id,
            Action="lambda:InvokeFunction",
            Principal=self.principal,
            SourceArn=self.source_arn,
            SourceAccount=self.env.arns.account,
        )

    def update(self, current):
        self.delete()
        self.create()

    def delete(self):
        self.env.lambda_.remove_permission(FunctionName=self.function_name, StatementId=self.statement_id)


class Table(Resource):
    """The feeding history: on-demand DynamoDB keyed by the projector's `key` (press#<id>, device#<thing>)."""

    kind = "dynamodb table"
    service = "dynamodb"
    KEY = [{"AttributeName": "key", "KeyType": "HASH"}]

    def read_existing(self):
        table = self.env.dynamodb.describe_table(TableName=self.name)["Table"]
        if table["TableStatus"] == "DELETING":
            # A destroy moments ago: the name is free only once the table is gone, then it is absent.
            self.env.dynamodb.get_waiter("table_not_exists").wait(TableName=self.name)
            return None
        billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        return {"billing": billing, "key": table["KeySchema"]}

    def desired(self):
        return {"billing": "PAY_PER_REQUEST", "key": self.KEY}

    def create(self):
        self.env.dynamodb.create_table(
            TableName=self.name,
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            KeySchema=self.KEY,
            BillingMode="PAY_PER_REQUEST",
        )
        # CreateTable returns while the table is CREATING; the projector may write only once it is ACTIVE.
        self.env.dynamodb.get_waiter("table_exists").wait(TableName=self.name)

    def update(self, current):
        self.env.dynamodb.update_table(TableName=self.name, BillingMode="PAY_PER_REQUEST")

    def delete(self):
        self.env.dynamodb.delete_table(TableName=self.name)


class Bus(Resource):
    kind = "event bus"
    service = "events"
    ledger = True  # the archive's source and the destination of its replays

    def read_existing(self):
        self.env.events.describe_event_bus(Name=self.name)
        return {}

    def desired(self):
        return {}

    def create(self):
        self.env.events.create_event_bus(Name=self.name)

    def delete(self):
        self.env.events.delete_event_bus(Name=self.name)


class Archive(Resource):
    kind = "event archive"
    service = "events"
    ledger = True

    def __init__(self, env):
        self.spec = env.topology["archive"]
        super().__init__(env, self.spec["name"])

    def read_existing(self):
        archive = self.env.events.describe_archive(ArchiveName=self.name)
        return {
            "EventSourceArn": archive["EventSourceArn"],
            "Description": archive.get("Description", ""),
            "EventPattern": canonical(archive.get("EventPattern")),
            "RetentionDays": archive["RetentionDays"],
        }

    def desired(self):
        return {
            "EventSourceArn": self.env.arns.bus(self.env.topology),
            "Description": self.spec["description"],
            "EventPattern": canonical(self.spec["event_pattern"]),
            "RetentionDays": self.spec["retention_days"],
        }

    def create(self):
        self.env.events.create_archive(ArchiveName=self.name, **self.desired())

    def update(self, current):
        desired = self.desired()
        del desired["EventSourceArn"]
        self.env.events.update_archive(ArchiveName=self.name, **desired)

    def delete(self):
        self.env.events.delete_archive(ArchiveName=self.name)


class Rule(Resource):
    kind = "event rule"
    service = "events"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.spec = spec
        self.bus = env.topology["bus"]["name"]

    def read_existing(self):
        rule = self.env.events.describe_rule(Name=self.name, EventBusName=self.bus)
        return {
            "EventPattern": canonical(rule.get("EventPattern")),
            "State": rule.get("State"),
            "Description": rule.get("Description", ""),
        }

    def desired(self):
        return {
            "EventPattern": canonical(self.spec["event_pattern"]),
            "State": "ENABLED",
            "Description": self.spec["description"],
        }

    def create(self):
        self.env.events.put_rule(Name=self.name, EventBusName=self.bus, **self.desired())

    def delete(self):
        self.env.events.delete_rule(Name=self.name, EventBusName=self.bus)


class Targets(Resource):
    kind = "event targets of rule"
    service = "events"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.spec = spec
        self.bus = env.topology["bus"]["name"]

    def read_existing(self):
        targets = self.env.events.list_targets_by_rule(Rule=self.name, EventBusName=self.bus)["Targets"]
        if not targets:
            return None
        keys = ("Id", "Arn", "RetryPolicy", "DeadLetterConfig")
        return {
            "targets": sorted(
                ({key: t[key] for key in keys if key in t} for t in targets), key=lambda t: t["Id"]
            )
        }

    def desired(self):
        topology, arns = self.env.topology, self.env.arns
        targets = []
        for target in self.spec["targets"]:
            arn = (
                arns.function(topology, target["function"])
                if "function" in target
                else arns.queue(topology, target["queue"])
            )
            targets.append(
                {
                    "Id": target["id"],
                    "Arn": arn,
                    "RetryPolicy": {
                        "MaximumRetryAttempts": target["retry"]["max_attempts"],
                        "MaximumEventAgeInSeconds": target["retry"]["max_event_age_s"],
                    },
                    "DeadLetterConfig": {"Arn": arns.queue(topology, target["dead_letter_queue"])},
                }
            )
        return {"targets": sorted(targets, key=lambda t: t["Id"])}

    def create(self):
        self.env.events.put_targets(Rule=self.name, EventBusName=self.bus, Targets=self.desired()["targets"])

    def update(self, current):
        wanted = {t["Id"] for t in self.desired()["targets"]}
        stale = [t["Id"] for t in current["targets"] if t["Id"] not in wanted]
        if stale:
            self.env.events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=stale)
        self.create()

    def delete(self):
        ids = [t["Id"] for t in self.read()["targets"]]
        self.env.events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=ids)


class Thing(Resource):
    kind = "iot thing"
    service = "iot"

    def read_existing(self):
        self.env.iot.describe_thing(thingName=self.name)
        return {}

    def desired(self):
        return {}

    def create(self):
        self.env.iot.create_thing(thingName=self.name)

    def delete(self):
        self.env.iot.delete_thing(thingName=self.name)


class IotPolicy(Resource):
    kind = "iot policy"
    service = "iot"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.spec = spec

    def read_existing(self):
        return {"document": canonical(self.env.iot.get_policy(policyName=self.name)["policyDocument"])}

    def desired(self):
        return {"document": canonical(iam.iot_policy(self.spec, self.env.arns))}

    def create(self):
        self.env.iot.create_policy(policyName=self.name, policyDocument=self.desired()["document"])

    def update(self, current):
        versions = self.env.iot.list_policy_versions(policyName=self.name)["policyVersions"]
        if len(versions) >= IOT_POLICY_VERSIONS_MAX:
            oldest = min(
                (v for v in versions if not v["isDefaultVersion"]), key=lambda v: int(v["versionId"])
            )
            self.env.iot.delete_policy_version(policyName=self.name, policyVersionId=oldest["versionId"])
        self.env.iot.create_policy_version(
            policyName=self.name, policyDocument=self.desired()["document"], setAsDefault=True
        )

    def delete(self):
        for target in self.env.iot.list_targets_for_policy(policyName=self.name)["targets"]:
            self.env.iot.detach_policy(policyName=self.name, target=target)
        for version in self.env.iot.list_policy_versions(policyName=self.name)["policyVersions"]:
            if not version["isDefaultVersion"]:
                self.env.iot.delete_policy_version(policyName=self.name, policyVersionId=version["versionId"])
        # "It can take up to five minutes after a policy is detached before it's ready to be deleted."
        self.env.waiting.retrying(
            "iot policy %s to be deletable after its detach" % self.name,
            lambda: self.env.iot.delete_policy(policyName=self.name),
            retry_if=codes("DeleteConflictException"),
            timeout_s=POLICY_DETACH_TIMEOUT_S,
        )


class DeviceCertificate(Resource):
    """The thing's certificate. Its private key exists only in the create response, so it is written
    (cloud/aws/credentials.py) before the certificate is attached, and the certificate is rolled back when
    that fails. A certificate attached to the thing whose key is not here is an orphan: the deployer
    issues a new pair and revokes it."""

    kind = "iot certificate of thing"
    service = "iot"

    def __init__(self, env):
        super().__init__(env, env.topology["thing"]["name"])
        self.policies = [p["name"] for p in env.topology["iot_policies"] if p.get("attach_to") == "thing"]
        self.folder = DeviceFolder(env.out_dir, self.name)

    def principals(self):
        return (
            absent_on_not_found(
                "iot", lambda: self.env.iot.list_thing_principals(thingName=self.name)["principals"]
            )
            or []
        )

    def read_existing(self):
        principals = self.principals()
        if not principals:
            return None
        return {"attached": True, "key_here": self.folder.certificate_id() in map(certificate_id, principals)}

    def desired(self):
        return {"attached": True, "key_here": True}

    def create(self):
        iot = self.env.iot
        issued = iot.create_keys_and_certificate(setAsActive=True)
        try:
            self.folder.write(issued, self.env.iot_data_endpoint)
            for policy in self.policies:
                iot.attach_policy(policyName=policy, target=issued["certificateArn"])
            iot.attach_thing_principal(thingName=self.name, principal=issued["certificateArn"])
        except BaseException:
            # Never leave a certificate whose key is lost: the next run would take it for a working one.
            with contextlib.suppress(OSError):
                self.folder.remove()
            self.retire(issued["certificateArn"], "INACTIVE")
            raise

    def update(self, current):
        """Orphans (a key lost by an earlier run, or kept on another machine): new pair first, then revoke."""
        orphans = self.principals()
        self.create()
        for principal in orphans:
            self.retire(principal, "REVOKED")

    def retire(self, principal, status):
        """Detach a certificate from its policies and the thing, wait until that has propagated, set its
        status (INACTIVE or REVOKED) and delete it, retrying while IoT still sees it attached."""
        iot, waiting, certificate = self.env.iot, self.env.waiting, certificate_id(principal)
        for policy in iot.list_attached_policies(target=principal)["policies"]:
            iot.detach_policy(policyName=policy["policyName"], target=principal)
        if self.name in iot.list_principal_things(principal=principal)["things"]:
            iot.detach_thing_principal(thingName=self.name, principal=principal)
            # DetachThingPrincipal "is asynchronous ... several seconds to propagate".
            waiting.until(
                "certificate %s to be detached from thing %s" % (certificate, self.name),
                lambda: self.name not in iot.list_principal_things(principal=principal)["things"],
                timeout_s=DETACH_PROPAGATION_TIMEOUT_S,
            )
        iot.update_certificate(certificateId=certificate, newStatus=status)
        waiting.retrying(
            "certificate %s to be deletable" % certificate,
            lambda: iot.delete_certificate(certificateId=certificate),
            retry_if=codes("DeleteConflictException", "CertificateStateException"),
            timeout_s=DETACH_PROPAGATION_TIMEOUT_S,
        )

    def delete(self):
        for principal in self.principals():
            self.retire(principal, "INACTIVE")
        self.folder.remove()


def certificate_id(principal):
    return principal.rsplit("/", 1)[-1]


class TopicRule(Resource):
    kind = "iot topic rule"
    service = "iot"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.spec = spec

    def read_existing(self):
        # Listed first: GetTopicRule may answer a missing rule with UnauthorizedException (aws/errors.py).
        pages = self.env.iot.get_paginator("list_topic_rules").paginate()
        if not any(rule["ruleName"] == self.name for page in pages for rule in page["rules"]):
            return None
        rule = self.env.iot.get_topic_rule(ruleName=self.name)["rule"]
        return {
            "sql": rule["sql"],
            "actions": rule["actions"],
            "errorAction": rule.get("errorAction"),
            "ruleDisabled": rule.get("ruleDisabled", False),
        }

    def desired(self):
        topology, arns = self.env.topology, self.env.arns
        error_queue = {
            "roleArn": arns.role(topology["topic_rules_role"]["name"]),
            "queueUrl": arns.queue_url(topology, self.spec["error_queue"]),
            "useBase64": False,
        }
        return {
            "sql": self.spec["sql"],
            "actions": [{"lambda": {"functionArn": arns.function(topology, self.spec["function"])}}],
            "errorAction": {"sqs": error_queue},
            "ruleDisabled": False,
        }

    def _payload(self):
        return dict(
            self.desired(),
            awsIotSqlVersion=IOT_SQL_VERSION,
            description="Messages on %s to the %s function"
            % (self.spec["sql"].split("'")[1], self.spec["function"]),
        )

    def create(self):
        self.env.iot.create_topic_rule(ruleName=self.name, topicRulePayload=self._payload())

    def update(self, current):
        self.env.iot.replace_topic_rule(ruleName=self.name, topicRulePayload=self._payload())

    def delete(self):
        self.env.iot.delete_topic_rule(ruleName=self.name)


def declared_resources(env):
    """Every resource of the topology, in an order where each one's dependencies come first: a function,
    its log group and its invoke permissions exist before any rule, target or topic rule can invoke it."""
    topology, arns = env.topology, env.arns
    resources = [Queue(env, key) for key in topology["queues"]]
    resources += [Table(env, topology["table"]["name"])]
    resources += [Role.of_function(env, key) for key in topology["functions"]]
    resources += [Role.of_topic_rules(env)]
    resources += [LogGroup(env, key) for key in topology["functions"]]
    resources += [Function(env, key) for key in topology["functions"]]
    resources += [
        FunctionAsyncConfig(env, key) for key, spec in topology["functions"].items() if "async" in spec
    ]
    resources += [
        InvokePermission(env, target["function"], "events.amazonaws.com", arns.rule(topology, rule["name"]))
        for rule in topology["rules"]
        for target in rule["targets"]
        if "function" in target
    ]
    resources += [
        InvokePermission(env, rule["function"], "iot.amazonaws.com", arns.topic_rule(rule["name"]))
        for rule in topology["topic_rules"]
    ]
    resources += [Bus(env, topology["bus"]["name"]), Archive(env)]
    resources += [Rule(env, rule) for rule in topology["rules"]]
    resources += [Targets(env, rule) for rule in topology["rules"]]
    resources += [Thing(env, topology["thing"]["name"])]
    resources += [IotPolicy(env, policy) for policy in topology["iot_policies"]]
    resources += [DeviceCertificate(env)]
    resources += [TopicRule(env, rule) for rule in topology["topic_rules"]]
    return resources
