"""The hub's runtime gives each handler its own Context: two runtimes in one process (two hubs, a hub
and a test) keep their clients apart, and neither touches the handler modules or the environment."""

import os

from cloud.handlers import button
from cloud.hub.events import LedgerEvents
from cloud.hub.runtime import Runtime
from cloud.topology import DEVICE_SOURCE, SOURCE

PRESS = {"v": 1, "event": "SINGLE", "at": 1795730000, "seq": 1, "thing": "cat-feeder"}


def test_two_runtimes_put_into_their_own_clients_and_patch_nothing():
    environ, module_state = dict(os.environ), dict(vars(button))
    first, second = LedgerEvents(), LedgerEvents()
    one, two = Runtime(events=first), Runtime(events=second)
    one["button"](PRESS)
    two["button"](dict(PRESS, seq=2))
    two["states"]({"v": 1, "type": "status", "thing": "cat-feeder", "status": "online", "at": 1795730001})
    assert [event["detail"]["event"] for event, _ in first.take()] == ["SINGLE"]
    # Each with the source the deployer gives that function (cloud/topology.py).
    assert [(event["source"], event["detail-type"]) for event, _ in second.take()] == [
        (SOURCE, "FeedRequested"),
        (DEVICE_SOURCE, "DeviceStatus"),
    ]
    assert dict(os.environ) == environ and dict(vars(button)) == module_state

