# MicroPython side of test_link_backoff.py: Link's reconnect schedule on a virtual clock.
#   micropython link_backoff_mpy.py <mqtt config json file>
# The client is a stand-in whose connect fails or succeeds on demand (the network itself is
# exercised in test_link.py); it creates its socket through umqtt.simple's module name `socket`,
# as umqtt does (a link.TlsSocket it never connects). Prints one JSON object.
import json
import sys

import umqtt.simple as umqtt_simple
from hal_sim import HAL
from link import Link

STEP_MS = 10


class ScriptedClient:
    def __init__(self, *args, **kwargs):
        self.pid = 0
        self.sock = None
        self.fail = True
        self.connect_calls = 0

    def set_callback(self, callback):
        pass

    def set_last_will(self, topic, message, retain=False, qos=0):
        pass

    def connect(self, clean_session=True):
        self.connect_calls += 1
        self.sock = umqtt_simple.socket.socket()
        if self.fail:
            raise OSError(111)
        return 1

    def subscribe(self, topic, qos=0):
        pass


def attempts_until(link, clock, count):
    """Step the link every STEP_MS of virtual time; the virtual times of `count` connect calls."""
    times = []
    client = link.client
    while len(times) < count:
        before = client.connect_calls
        link.step(clock.ticks_ms())
        if client.connect_calls != before:
            times.append(clock.ticks_ms())
        clock.sleep_ms(STEP_MS)
    return times


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    clock = HAL(virtual=True)
    link = Link(config, "cat-feeder", lambda topic, payload: None, clock, client_factory=ScriptedClient)
    report = {}
    report["failing"] = attempts_until(link, clock, 9)
    report["failures"] = link.failures
    link.client.fail = False
    attempts_until(link, clock, 1)
    report["connected"] = link.connected
    clock.sleep_ms(31000)  # a stable session ...
    link.client.fail = True
    # ... then the link dies: the scripted connect left its socket unconnected, so the write fails.
    report["publish_after_stable"] = link.send("cat-feeder/states", b"x", 1) >= 0
    report["failures_after_stable_drop"] = link.failures
    dropped_at = clock.ticks_ms()
    report["retry_after_stable_drop"] = attempts_until(link, clock, 1)[0] - dropped_at
    print(json.dumps(report))


main()
