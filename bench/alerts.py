"""Alerts on the self-hosted hub (cloud/hub/alerting.py): how soon a household hears of an incident, and
that a notification service that is down holds up no feeding.

    .venv/bin/python bench/alerts.py            (make bench runs it)

1. Event -> notification: CYCLES times, a device's `interrupted` result published on its states topic
   (mosquitto, mutual TLS, QoS 1), ingested into the ledger (fsync), delivered to the `alerts` rule, the
   incident opened with its outbox row in one transaction, sent by Apprise (json://) to a local HTTP
   receiver; timed from the publish to the receiver's arrival (one clock, time.monotonic()). Then a
   `dispensed` result resolves it, timed the same way. The offline threshold is not part of it.
2. Press -> servo start through the hub (bench/hub.py's press_to_servo: button message, ledger, `feeds`
   rule, command, the firmware on MicroPython's unix port, its first PWM write), PRESSES presses with
   the receiver up, then PRESSES with it down (connection refused) and DOWN_INCIDENTS notifications
   failing and retried meanwhile, then PRESSES with it hanging (a listening socket that never answers:
   each attempt waits for Apprise's timeouts).
"""

import contextlib
import json
import os
import socket
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.device import percentile  # noqa: E402
from bench.hub import SPACING_S, press_to_servo  # noqa: E402
from cloud import household  # noqa: E402
from cloud.hub import alerting  # noqa: E402
from cloud.hub.hub import Hub  # noqa: E402
from cloud.hub.ingest import mqtt_client  # noqa: E402
from cloud.topology import THING, states_topic  # noqa: E402
from rigs.device import Device, rig_config, scratch_broker, wait_for  # noqa: E402
from rigs.receiver import Receiver  # noqa: E402

COMMAND_LINE = ".venv/bin/python bench/alerts.py"
CYCLES = 100
PRESSES = 40  # three times this stays under rig_config's cap of 128 an hour
DOWN_INCIDENTS = 10


class States:
    """Results published as the device would, numbered from 1 (a client id of its own)."""

    def __init__(self, pki, port):
        self.client = mqtt_client(pki, "device", "bench-alerts-states")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.seq = 0

    def result(self, status):
        self.seq += 1
        message = {
            "v": 1,
            "type": "result",
            "thing": THING,
            "seq": self.seq,
            "id": "bench-%d" % self.seq,
            "status": status,
            "bowls": ["left"],
            "at": int(time.time()),
        }
        self.client.publish(states_topic(THING), json.dumps(message), 1).wait_for_publish(5)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def timed_note(receiver, states, status):
    count = len(receiver.notes)
    published = time.monotonic()
    states.result(status)
    receiver.wait_for(count + 1, 10)
    return (receiver.notes[count][0] - published) * 1000


def main():
    print(
        "alerts on the hub (%s; mosquitto over mutual TLS, Apprise json:// to a local receiver)"
        % COMMAND_LINE
    )
    with scratch_broker() as (workdir, pki, broker):
        receiver = Receiver().start()
        home = household.validate({"things": [{"thing": THING}], "alerts": {"notify": [receiver.url()]}})
        hub = Hub(
            os.path.join(workdir, "hub"),
            pki,
            "127.0.0.1",
            broker.port,
            household.topology(home),
            notify=home["alerts"]["notify"],
        ).start()
        states = States(pki, broker.port)
        try:
            opened, resolved = [], []
            for _ in range(CYCLES):
                opened.append(timed_note(receiver, states, "interrupted"))
                resolved.append(timed_note(receiver, states, "dispensed"))
            for name, values in (("opens", opened), ("resolves", resolved)):
                p99 = percentile(values, 99)
                print(
                    "  event that %-8s an incident -> notification at the receiver, %d: p50 %.1f ms,"
                    " p99 %.1f ms, max %.1f ms (goal p99 < 1 s: %s)"
                    % (
                        name,
                        CYCLES,
                        statistics.median(values),
                        p99,
                        max(values),
                        "met" if p99 < 1000 else "NOT met",
                    )
                )
            press_figures(workdir, pki, broker, hub, receiver, states)
        finally:
            states.close()
            hub.stop()


def presses(button, device, hub, first_seq):
    latencies = []
    for seq in range(first_seq, first_seq + PRESSES):
        latencies.append(press_to_servo(button, device, hub, seq))
        time.sleep(SPACING_S)
    return latencies


@contextlib.contextmanager
def hanging(port):
    """The receiver's port accepting connections (the kernel's backlog) and never answering."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    try:
        yield
    finally:
        sock.close()


def press_figures(workdir, pki, broker, hub, receiver, states):
    config = rig_config(broker.port, sim={"trace": "servo.trace", "servo_wait": False})
    device = Device(os.path.join(workdir, "flash"), pki, config, heapsize="256K", compiled=True).start()
    button = mqtt_client(pki, "device", "bench-alerts-button")
    button.connect("127.0.0.1", broker.port)
    button.loop_start()
    try:
        device.wait_up()
        up = presses(button, device, hub, 1)
        receiver.stop()
        for _ in range(DOWN_INCIDENTS // 2):
            states.result("interrupted")
            states.result("dispensed")
        wait_for(
            lambda: alerting.listing(hub.alerting.path)["pending"] >= DOWN_INCIDENTS, 10, "failing alerts"
        )
        down = presses(button, device, hub, PRESSES + 1)
        with hanging(receiver.port):
            hung = presses(button, device, hub, 2 * PRESSES + 1)
        pending = alerting.listing(hub.alerting.path)["pending"]
        for name, values in (("up", up), ("down", down), ("hung", hung)):
            print(
                "  press -> servo start through the hub, receiver %-4s, %d presses: p50 %.1f ms, p99 %.1f ms"
                % (name, PRESSES, statistics.median(values), percentile(values, 99))
            )
        up_p50 = statistics.median(up)
        print(
            "  p50 down / up: %.2f, hung / up: %.2f; %d notifications undelivered (retried with backoff)"
            % (statistics.median(down) / up_p50, statistics.median(hung) / up_p50, pending)
        )
    finally:
        button.loop_stop()
        button.disconnect()
        device.kill()


if __name__ == "__main__":
    main()
