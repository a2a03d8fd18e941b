"""cloud/hub/acl.py: the hub's mosquitto ACL rendered from one table, each device role's grants taken from
its IoT policy (cloud/topology.py) and each thing of the household granted its role's own topics."""

import copy
from types import SimpleNamespace

import pytest

from cloud import household
from cloud.hub import acl
from cloud.topology import THING_NAME_VARIABLE, TOPOLOGY

PKI = SimpleNamespace(publisher_cn="cloud-publisher", observer_cn="cloud-observer", hub_cn="cloud-hub")
EXAMPLE = household.topology(household.load(household.PATH.with_name("household.example.json")))


# A feeder's schedule shadow (docs/protocol.md, "Schedule shadow"): it asks and reports, hears the answers.
SHADOW = "$aws/things/%s/shadow/name/schedule/"


JOBS = "$aws/things/%s/jobs/"


def own_shadow(thing):
    """Its shadow's topics, then its jobs' (updates over the air: the policy's `*` job id is `+` here)."""
    return ["write " + SHADOW % thing + suffix for suffix in ("get", "update")] + [
        "read " + SHADOW % thing + suffix for suffix in ("get/accepted", "get/rejected", "update/delta")] + [
        "write " + JOBS % thing + "$next/get", "write " + JOBS % thing + "+/update",
        "read " + JOBS % thing + "notify-next", "read " + JOBS % thing + "$next/get/accepted"]


def blocks(text):
    """{user: [topic lines]} of an ACL file."""
    users, user = {}, None
    for line in text.splitlines():
        if line.startswith("user "):
            user = users.setdefault(line[5:], [])
        elif line and not line.startswith("#"):
            assert user is not None and line.startswith("topic "), line
            user.append(line[6:])
    return users


def test_each_thing_gets_its_roles_own_topics_and_each_hub_identity_its_own():
    assert blocks(acl.render(EXAMPLE, EXAMPLE["things"], PKI)) == {
        "cloud-publisher": ["write cat-feeder/+/action", "write cat-feeder/+/button"],
        "cloud-observer": ["read cat-feeder/+/states", "read cat-feeder/+/button"],
        "cloud-hub": ["read cat-feeder/+/button", "read cat-feeder/+/states",
                      "readwrite cat-feeder-hub/checkpoint", "readwrite cat-feeder-hub/health"]
        + ["read " + SHADOW % "+" + suffix for suffix in ("get", "update")]
        + ["write " + SHADOW % "+" + suffix for suffix in ("get/accepted", "get/rejected", "update/delta")]
        + ["read " + JOBS % "+" + suffix for suffix in ("$next/get", "+/update")]
        + ["write " + JOBS % "+" + suffix
           for suffix in ("notify-next", "$next/get/accepted", "+/update/accepted", "+/update/rejected")],
        "kitchen": ["read cat-feeder/kitchen/action", "write cat-feeder/kitchen/states",
                    "write cat-feeder/kitchen/button"] + own_shadow("kitchen"),
        "bedroom": ["read cat-feeder/bedroom/action", "write cat-feeder/bedroom/states",
                    "write cat-feeder/bedroom/button"] + own_shadow("bedroom"),
        # A button: its presses only, no commands, no status.
        "hall-button": ["write cat-feeder/hall-button/button"],
    }


def test_a_topic_a_role_gains_in_its_iot_policy_is_granted_on_the_hub_too():
    topology = copy.deepcopy(EXAMPLE)
    (feeder,) = [p for p in topology["iot_policies"] if p["name"] == "cat-feeder-device"]
    feeder["statements"].append(
        ("iot:Subscribe", "topicfilter", "$aws/things/%s/shadow/update/delta" % THING_NAME_VARIABLE))
    granted = blocks(acl.render(topology, topology["things"], PKI))
    assert "read $aws/things/kitchen/shadow/update/delta" in granted["kitchen"]
    assert "read $aws/things/bedroom/shadow/update/delta" in granted["bedroom"]
    assert granted["hall-button"] == ["write cat-feeder/hall-button/button"]


def test_no_pattern_lines_since_mosquitto_applies_them_to_every_user():
    text = acl.render(TOPOLOGY, TOPOLOGY["things"], PKI)
    assert [line for line in text.splitlines() if line.startswith("pattern")] == []


def test_a_thing_named_as_one_of_the_hubs_identities_is_refused():
    with pytest.raises(ValueError, match="'cloud-hub' has the name of one of the hub's own identities"):
        acl.render(TOPOLOGY, [{"name": "cloud-hub", "role": "feeder"}], PKI)
