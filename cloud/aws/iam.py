"""Least-privilege policy documents for the topology: exact actions on exact ARNs, nothing with `*`
except the log-stream names Lambda chooses itself. Pure functions of the topology and the account."""

import json

POLICY_VERSION = "2012-10-17"


class Arns:
    """ARNs of the topology's resources in one partition, region and account."""

    def __init__(self, partition, region, account):
        self.partition, self.region, self.account = partition, region, account

    def _arn(self, service, resource, region=None):
        return "arn:%s:%s:%s:%s:%s" % (
            self.partition,
            service,
            self.region if region is None else region,
            self.account,
            resource,
        )

    def bus(self, topology):
        return self._arn("events", "event-bus/" + topology["bus"]["name"])

    def archive(self, topology):
        return self._arn("events", "archive/" + topology["archive"]["name"])

    def rule(self, topology, rule_name):
        return self._arn("events", "rule/%s/%s" % (topology["bus"]["name"], rule_name))

    def schedule_rule(self, rule_name):
        """A scheduled rule's ARN: it lives on the default bus, whose rules' ARNs name no bus."""
        return self._arn("events", "rule/" + rule_name)

    def sns_topic(self, topic_name):
        return self._arn("sns", topic_name)

    def queue(self, topology, queue_key):
        return self.queue_named(topology["queues"][queue_key]["name"])

    def queue_named(self, queue_name):
        return self._arn("sqs", queue_name)

    def queue_url(self, topology, queue_key):
        """Not an ARN, but as predictable: IoT's SQS actions name the queue by URL."""
        return "https://sqs.%s.amazonaws.com/%s/%s" % (
            self.region,
            self.account,
            topology["queues"][queue_key]["name"],
        )

    def table(self, table_name):
        return self._arn("dynamodb", "table/" + table_name)

    def function(self, topology, function_key):
        return self._arn("lambda", "function:" + topology["functions"][function_key]["name"])

    def role(self, role_name):
        return self._arn("iam", "role/" + role_name, region="")

    def iot(self, kind, name):
        return self._arn("iot", "%s/%s" % (kind, name))

    def topic_rule(self, rule_name):
        return self._arn("iot", "rule/" + rule_name)

    def log_group(self, function_name):
        return self._arn("logs", "log-group:" + log_group_name(function_name))

    def reference(self, topology, ref):
        kind = ref[0]
        if kind == "bus":
            return self.bus(topology)
        if kind == "topic":
            return self.iot("topic", ref[1])
        if kind == "thing":  # a thing, or with /<name> its named shadow
            return self.iot("thing", ref[1])
        if kind == "queue":
            return self.queue(topology, ref[1])
        if kind == "table":
            return self.table(topology["table"]["name"])
        if kind == "incidents_table":
            return self.table(topology["incidents_table"]["name"])
        if kind == "alerts_topic":
            return self.sns_topic(topology["alerts_topic"]["name"])
        if kind == "hydrated_tables":
            return self.table(topology["table"]["name"] + "-*")
        raise ValueError("unknown resource reference %r" % (ref,))


def role_name(function):
    return function["name"] + "-role"


def log_group_name(function_name):
    """The group Lambda writes a function's logs to; the deployer creates it with its retention."""
    return "/aws/lambda/" + function_name


def trust_policy(arns, service):
    """Only `service` (e.g. lambda.amazonaws.com), acting for this account, may assume the role."""
    return _document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": arns.account}},
            }
        ]
    )


def function_policy(topology, function_key, arns):
    function = topology["functions"][function_key]
    # The deployer creates the log group (with its retention), so the function only needs its streams,
    # which IAM authorizes on the log-stream ARN, not on the group's.
    statements = [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": arns.log_group(function["name"]) + ":log-stream:*",
        },
    ]
    for actions, ref in function["grants"]:
        statements.append(
            {"Effect": "Allow", "Action": list(actions), "Resource": arns.reference(topology, ref)}
        )
    if "async" in function:
        # Lambda sends a failed asynchronous invocation to the on-failure destination as the function's role.
        queue = arns.queue(topology, function["async"]["on_failure_queue"])
        statements.append({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue})
    return _document(statements)


def topic_rules_policy(topology, arns):
    """What IoT Core may do as the topic rules' role: send to each rule's error queue, nothing else."""
    queues = sorted({arns.queue(topology, rule["error_queue"]) for rule in topology["topic_rules"]})
    return _document([{"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queues}])


def queue_policy(topology, queue_key, arns):
    """Only the rules that deliver to this queue (as target or dead-letter queue) may send to it."""
    sources = sorted(
        arns.rule(topology, rule["name"])
        for rule in topology["rules"]
        if any(
            queue_key in (target.get("queue"), target.get("dead_letter_queue")) for target in rule["targets"]
        )
    )
    if not sources:
        return None
    return events_queue_policy(arns.queue(topology, queue_key), sources)


def events_queue_policy(queue_arn, rule_arns):
    """EventBridge may send to the queue, on behalf of the given rules only."""
    return _document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
            }
        ]
    )


def iot_policy(policy, arns):
    """Group the declared (action, kind, name) triples into one statement per action."""
    resources_by_action = {}
    for action, kind, name in policy["statements"]:
        resources_by_action.setdefault(action, []).append(arns.iot(kind, name))
    statements = []
    for action, resources in resources_by_action.items():
        statement = {"Effect": "Allow", "Action": action, "Resource": resources}
        if action == "iot:Connect":
            # Only a certificate attached to the thing may connect with that thing's name as client id.
            statement["Condition"] = {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
        statements.append(statement)
    return _document(statements)


def _document(statements):
    return {"Version": POLICY_VERSION, "Statement": statements}


def dumps(document):
    """Canonical JSON so stored and desired documents compare equal."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
