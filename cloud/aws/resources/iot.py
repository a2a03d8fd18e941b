"""IoT Core: the household's things, the policy of each role, each thing's certificate and the topic rules."""

import contextlib

from cloud.aws import iam
from cloud.aws.credentials import DeviceFolder
from cloud.aws.errors import absent_on_not_found
from cloud.aws.resources.base import Resource, canonical
from cloud.aws.waiting import codes

IOT_SQL_VERSION = "2016-03-23"
IOT_POLICY_VERSIONS_MAX = 5
# AWS documents "several seconds" for DetachThingPrincipal and "up to five minutes" after DetachPolicy.
DETACH_PROPAGATION_TIMEOUT_S = 120
POLICY_DETACH_TIMEOUT_S = 330


# Every thing the deployer creates carries these attributes (and its role): it never changes, removes or
# lists as its own a thing without them, e.g. someone else's thing of the same name in the account. A thing
# without a thing type may have three attributes (https://docs.aws.amazon.com/iot/latest/developerguide/
# thing-types.html), so the marker and the role take two.
MANAGED_BY = ("managed-by", "cat-feeder")


class ThingNotManaged(Exception):
    """One line: a thing of the household exists in the account but was not created by this deployer."""


def thing_attributes(role):
    return {MANAGED_BY[0]: MANAGED_BY[1], "role": role}


class Thing(Resource):
    """One thing of the household (cloud/household.py), marked as managed and with its role."""

    kind = "iot thing"
    service = "iot"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.role = spec["role"]

    def read_existing(self):
        return {"attributes": managed_attributes(self.env, self.name)}

    def desired(self):
        return {"attributes": thing_attributes(self.role)}

    def create(self):
        self.env.iot.create_thing(thingName=self.name, attributePayload=self.desired())

    def update(self, current):
        # merge False: the attributes become exactly these (a role changed in the household file).
        self.env.iot.update_thing(thingName=self.name, attributePayload=dict(self.desired(), merge=False))

    def delete(self):
        self.env.iot.delete_thing(thingName=self.name)


def managed_attributes(env, thing):
    """The attributes of thing, which this deployer created; ThingNotManaged if it did not."""
    attributes = env.iot.describe_thing(thingName=thing).get("attributes", {})
    if attributes.get(MANAGED_BY[0]) != MANAGED_BY[1]:
        raise ThingNotManaged(
            "iot thing %s exists but this deployer did not create it (no attribute %s=%s): name the "
            "board otherwise in the household file" % (thing, *MANAGED_BY)
        )
    return attributes


def managed_things(env):
    """{thing name: role} of every thing in the account that carries this deployer's marker."""
    pages = env.iot.get_paginator("list_things").paginate(
        attributeName=MANAGED_BY[0], attributeValue=MANAGED_BY[1]
    )
    things = [thing for page in pages for thing in page["things"]]
    return {thing["thingName"]: thing.get("attributes", {}).get("role") for thing in things}


class RemovedThing(Resource):
    """A thing this deployer created that the household file no longer names: its certificates are revoked
    and deleted (the board can no longer connect), then the thing and its local credentials."""

    kind = "iot thing"
    service = "iot"

    def __init__(self, env, name, role):
        super().__init__(env, name)
        self.certificate = DeviceCertificate(env, {"name": name, "role": role})

    def read_existing(self):
        self.env.iot.describe_thing(thingName=self.name)
        return {}

    def delete(self):
        self.certificate.delete(status="REVOKED")
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
    """A thing's certificate, with the IoT policy of the thing's role attached. Its private key exists only
    in the create response, so it is written (cloud/aws/credentials.py) before the certificate is attached,
    and the certificate is rolled back when that fails. A certificate attached to the thing whose key is not
    here is an orphan: the deployer issues a new pair and revokes it."""

    kind = "iot certificate of thing"
    service = "iot"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.policies = sorted(p["name"] for p in env.topology["iot_policies"] if p["role"] == spec["role"])
        self.folder = DeviceFolder(env.out_dir, self.name)

    def principals(self):
        return (
            absent_on_not_found(
                "iot", lambda: self.env.iot.list_thing_principals(thingName=self.name)["principals"]
            )
            or []
        )

    def attached_policies(self, principal):
        attached = self.env.iot.list_attached_policies(target=principal)["policies"]
        return sorted(policy["policyName"] for policy in attached)

    def read_existing(self):
        # Never another's thing's certificates: destroy reads (and deletes) certificates before things.
        managed_attributes(self.env, self.name)
        principals = self.principals()
        if not principals:
            return None
        return {
            "key_here": self.folder.certificate_id() in map(certificate_id, principals),
            "policies": sorted({name for each in principals for name in self.attached_policies(each)}),
        }

    def desired(self):
        return {"key_here": True, "policies": self.policies}

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
        """Orphans (a key lost by an earlier run, or kept on another machine): new pair first, then revoke.
        Otherwise the thing's role changed: its certificate gets the role's policy in place of the old one."""
        if not current["key_here"]:
            orphans = self.principals()
            self.create()
            for principal in orphans:
                self.retire(principal, "REVOKED")
            return
        for principal in self.principals():
            attached = self.attached_policies(principal)
            for policy in self.policies:
                if policy not in attached:
                    self.env.iot.attach_policy(policyName=policy, target=principal)
            for policy in attached:
                if policy not in self.policies:
                    self.env.iot.detach_policy(policyName=policy, target=principal)

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

    def delete(self, status="INACTIVE"):
        for principal in self.principals():
            self.retire(principal, status)
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
