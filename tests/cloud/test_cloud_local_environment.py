"""cloud.topology.local_environment: what the handlers find in os.environ when run in one local process."""

import copy

import pytest

from cloud.topology import TOPOLOGY, ConflictingEnvironment, local_environment


def test_references_resolve_to_the_named_entries_and_deploy_time_ones_are_left_out():
    env = local_environment(TOPOLOGY, ("button", "feeder"))
    assert env["EVENT_BUS_NAME"] == TOPOLOGY["bus"]["name"] == "feedmyfurbabies"
    assert "IOT_DATA_ENDPOINT" not in env  # the feeder's iot:Data-ATS endpoint exists only once deployed
    assert set(TOPOLOGY["functions"]["feeder"]["environment"]) <= set(env)


def test_two_functions_wanting_different_values_for_one_variable_is_an_error():
    topology = copy.deepcopy(TOPOLOGY)
    topology["functions"]["feeder"]["environment"]["EVENT_BUS_NAME"] = "another-bus"
    with pytest.raises(ConflictingEnvironment, match="EVENT_BUS_NAME"):
        local_environment(topology, ("button", "feeder"))
