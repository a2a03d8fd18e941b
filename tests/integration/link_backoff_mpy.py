# MicroPython side of test_link_backoff.py: Link's reconnect schedule on a virtual clock.
#   micropython link_backoff_mpy.py <mqtt config json file>
# The connect attempt is a stand-in that fails or succeeds on demand (the network itself is
# exercised in test_link.py); on success it attaches a TCP socket it never connects, so the
# link's first write fails. Prints one JSON object.
import json
import socket
import sys

from hal_sim import HAL
from link import Link

STEP_MS = 10


class ScriptedConnect:
    def __init__(self):
        self.fail = True
        self.calls = 0

    def __call__(self, link, now_ms):
        self.calls += 1
        if self.fail:
            return "tcp: OSError(111)"
        link.attach(socket.socket(), now_ms)
        return None


def attempts_until(link, clock, count, delays=None):
    """Step the link every STEP_MS of virtual time; the virtual times of `count` connect calls.
    delays, if given, gets the backoff the link drew after each failed call."""
    times = []
    connector = link.connector
    while len(times) < count:
        before = connector.calls
        link.step(clock.ticks_ms())
        if connector.calls != before:
            times.append(clock.ticks_ms())
            if delays is not None:
                delays.append(link.retry_delay_ms)
        clock.sleep_ms(STEP_MS)
    return times


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    clock = HAL(virtual=True)
    link = Link(config, "cat-feeder", lambda topic, payload: None, clock, connector=ScriptedConnect())
    report = {}
    report["drawn"] = []
    report["failing"] = attempts_until(link, clock, 9, report["drawn"])
    report["failures"] = link.failures
    link.connector.fail = False
    attempts_until(link, clock, 1)
    report["connected"] = link.connected
    clock.sleep_ms(31000)  # a stable session ...
    link.connector.fail = True
    # ... then the link dies: the attached socket was never connected, so the write fails.
    report["publish_after_stable"] = link.send("cat-feeder/cat-feeder/states", b"x", 1) >= 0
    report["failures_after_stable_drop"] = link.failures
    report["drawn_at_stable_drop"] = link.retry_delay_ms
    dropped_at = clock.ticks_ms()
    report["retry_after_stable_drop"] = attempts_until(link, clock, 1)[0] - dropped_at
    print(json.dumps(report))


main()
