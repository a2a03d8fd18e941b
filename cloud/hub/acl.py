"""The hub's mosquitto ACL, written by cloud/hub/broker.py at every broker start from one table: role ->
[(access, topic)].

- A device role's grants are its IoT policy's (cloud/topology.py `iot_policies`, each with its `role`):
  iot:Subscribe and iot:Receive become `read`, iot:Publish and iot:RetainPublish `write`, and the thing-name
  variable the thing's own name. A topic a role gains on AWS is added there, once, and the hub follows.
  Actions with no MQTT topic counterpart grant nothing here: iot:Connect (mosquitto takes any client id,
  and the user is the certificate's CN), and HTTP-only ones such as iot:GetThingShadow.
- The hub's own identities (cloud/hub/pki.py: the cloud publisher, the observer, the hub) have grants of
  their own here: on AWS their work is done by the feeder function and the topic rules under IAM.

mosquitto applies every `pattern` line (`%u`, the user) to every user, whatever `user` line precedes it
(src/security_default.c, mosquitto_acl_check_default), so a pattern cannot grant a role: a button would get
the feeder's topics. Each thing of the household therefore gets a `user <thing>` block with its role's
topics under its own name, as `%u` would have written them; a certificate of the CA whose CN names no
thing of the household is granted nothing.
"""

from cloud.hub.checkpoint import CHECKPOINT_TOPIC
from cloud.hub.health import HEALTH_TOPIC
from cloud.topology import (
    THING_NAME_VARIABLE,
    action_topic,
    button_topic,
    jobs_topic,
    shadow_topic,
    states_topic,
)

# IoT policy action -> the mosquitto access that stands for it.
ACCESS = {
    "iot:Subscribe": "read",
    "iot:Receive": "read",
    "iot:Publish": "write",
    "iot:RetainPublish": "write",
}
HUB_ROLES = {
    # The cloud side: commands to any feeder (the feeder function's iot-data Publish on AWS), and `make press`
    # on behalf of any thing.
    "publisher": [("write", action_topic("+")), ("write", button_topic("+"))],
    # Stands in for the IoT rules that consume device messages on AWS.
    "observer": [("read", states_topic("+")), ("read", button_topic("+"))],
    # The self-hosted hub's ingest (what the IoT topic rules read on AWS), its signed ledger checkpoint,
    # retained here outside the ledger file (cloud/hub/checkpoint.py), and its health for `python -m
    # cloud.hub status` (cloud/hub/health.py).
    "hub": [
        ("read", button_topic("+")),
        ("read", states_topic("+")),
        ("readwrite", CHECKPOINT_TOPIC),
        ("readwrite", HEALTH_TOPIC),
        # Its shadow service (cloud/hub/shadows.py), as AWS IoT's Device Shadow service: every feeder's
        # schedule `get` and `update`, and the answers a feeder reads.
        ("read", shadow_topic("+", "get")),
        ("read", shadow_topic("+", "update")),
        ("write", shadow_topic("+", "get/accepted")),
        ("write", shadow_topic("+", "get/rejected")),
        ("write", shadow_topic("+", "update/delta")),
        # Its jobs service (cloud/hub/jobs.py), as AWS IoT Jobs: every feeder's `$next/get` and job updates,
        # and the answers and notifications a feeder reads.
        ("read", jobs_topic("+", "$next/get")),
        ("read", jobs_topic("+", "+/update")),
        ("write", jobs_topic("+", "notify-next")),
        ("write", jobs_topic("+", "$next/get/accepted")),
        ("write", jobs_topic("+", "+/update/accepted")),
        ("write", jobs_topic("+", "+/update/rejected")),
    ],
}


def grants(topology):
    """The table: each device role's grants (from its IoT policy, topics naming THING_NAME_VARIABLE) and
    each hub identity's."""
    table = {}
    for policy in topology["iot_policies"]:
        granted = table.setdefault(policy["role"], [])
        for action, _kind, name in policy["statements"]:
            topic = name.replace("/*/", "/+/")  # a policy's one-level wildcard is MQTT's `+` here
            if action in ACCESS and (ACCESS[action], topic) not in granted:
                granted.append((ACCESS[action], topic))
    table.update(HUB_ROLES)
    return table


def render(topology, things, pki):
    """The ACL file's text: one `user` block per hub identity and per thing ({"name", "role"} entries)."""
    table = grants(topology)
    identities = {"publisher": pki.publisher_cn, "observer": pki.observer_cn, "hub": pki.hub_cn}
    users = [(cn, table[role]) for role, cn in identities.items()]
    for thing in things:
        if thing["name"] in identities.values():
            raise ValueError("thing %r has the name of one of the hub's own identities" % thing["name"])
        name, role = thing["name"], table[thing["role"]]
        users.append((name, [(access, topic.replace(THING_NAME_VARIABLE, name)) for access, topic in role]))
    lines = [
        "# Written by cloud/hub/acl.py at broker start: each thing of the household its role's own topics,",
        "# each of the hub's identities its own. Users are certificate CNs (use_identity_as_username).",
        "# Anything not granted here is refused.",
    ]
    for user, topics in users:
        lines += ["", "user " + user] + ["topic %s %s" % grant for grant in topics]
    return "\n".join(lines) + "\n"
