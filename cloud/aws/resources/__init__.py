"""One reconciler per kind of AWS resource the deployer manages.

Each resource reads its current state as a small comparable dict (None when absent), knows its
desired state from cloud/topology.py, and can create, update and delete itself. The deployer only
compares the two dicts, so `plan`, `apply` and a no-op second `apply` share one code path.
"""

from cloud.aws.resources.dynamodb import Table
from cloud.aws.resources.eventbridge import Archive, Bus, Rule, ScheduleRule, ScheduleTargets, Targets
from cloud.aws.resources.functions import Function, FunctionAsyncConfig, InvokePermission
from cloud.aws.resources.iot import (
    DeviceCertificate,
    IotPolicy,
    RemovedThing,
    Thing,
    TopicRule,
    managed_things,
)
from cloud.aws.resources.logs import LogGroup
from cloud.aws.resources.roles import Role
from cloud.aws.resources.s3 import Bucket
from cloud.aws.resources.sns import Subscription, Topic
from cloud.aws.resources.sqs import Queue


def declared_resources(env):
    """Every resource of the topology, in an order where each one's dependencies come first: a function,
    its log group and its invoke permissions exist before any rule, target or topic rule can invoke it."""
    topology, arns = env.topology, env.arns
    resources = [Queue(env, key) for key in topology["queues"]]
    resources += [Table(env, topology["table"]["name"]), Table(env, topology["incidents_table"]["name"])]
    resources += [Topic(env)]
    resources += [Bucket(env)]
    resources += [Subscription(env, *each) for each in topology["alerts_topic"].get("subscriptions", ())]
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
    resources += [
        InvokePermission(env, spec["function"], "events.amazonaws.com", arns.schedule_rule(spec["name"]))
        for spec in topology["schedules"]
    ]
    resources += [Bus(env, topology["bus"]["name"]), Archive(env)]
    resources += [Rule(env, rule) for rule in topology["rules"]]
    resources += [Targets(env, rule) for rule in topology["rules"]]
    resources += [ScheduleRule(env, spec) for spec in topology["schedules"]]
    resources += [ScheduleTargets(env, spec) for spec in topology["schedules"]]
    resources += [Thing(env, thing) for thing in topology["things"]]
    resources += [IotPolicy(env, policy) for policy in topology["iot_policies"]]
    resources += [DeviceCertificate(env, thing) for thing in topology["things"]]
    resources += [TopicRule(env, rule) for rule in topology["topic_rules"]]
    return resources


def removed_resources(env):
    """The things an earlier deploy created (iot.MANAGED_BY) that the household no longer names."""
    declared = {thing["name"] for thing in env.topology["things"]}
    found = managed_things(env)
    return [RemovedThing(env, name, found[name]) for name in sorted(found) if name not in declared]
