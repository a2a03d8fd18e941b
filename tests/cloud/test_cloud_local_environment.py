"""cloud.topology.local_environment: the environment a function gets when it runs locally."""

from cloud.topology import TOPOLOGY, local_environment


def test_references_resolve_to_the_named_entries_and_deploy_time_ones_are_left_out():
    assert local_environment("button")["EVENT_BUS_NAME"] == TOPOLOGY["bus"]["name"] == "feedmyfurbabies"
    feeder = local_environment("feeder")
    assert "IOT_DATA_ENDPOINT" not in feeder  # the feeder's iot:Data-ATS endpoint exists only once deployed
    assert feeder == TOPOLOGY["functions"]["feeder"]["environment"]
