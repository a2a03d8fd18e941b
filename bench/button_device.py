"""The board's own button end to end on the unix port: edge -> press on the wire, edge -> servo start.

    .venv/bin/python bench/button_device.py            (make bench runs it)

The whole firmware (compiled, as on the board) runs against mosquitto over mutual TLS with a button
on GPIO5 and local-first feeding; its virtual button (tools/sim_board.py) is held and released as a
finger would. For each press, from the edge that decides the gesture:
- to the press message arriving at an observer subscribed to cat-feeder/+/button (QoS 1);
- to the first PWM write of the dispense move in the servo trace (local-first: no network involved).
DOUBLE is decided at its second press (once steady for debounce_ms): the button path's own latency.
SINGLE is decided only when the double window (400 ms) after its release has passed: that figure
includes the window. Both clocks are CLOCK_MONOTONIC (the trace's ticks_us on MicroPython's unix
port, time.monotonic() here). Servo waits are skipped (sim.servo_wait false); presses are 0.4 s apart.
"""

import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cloud.hub.broker import Broker  # noqa: E402
from cloud.hub.pki import Pki  # noqa: E402
from rigs.device import Device, dispense_starts, rig_config  # noqa: E402
from tools.mqttc import MqttClient  # noqa: E402
from tools.sim_board import press_button  # noqa: E402

COMMAND_LINE = ".venv/bin/python bench/button_device.py"
PRESSES = {"DOUBLE": 40, "SINGLE": 20}
DECIDING_EDGE = {"DOUBLE": 2, "SINGLE": 1}  # index in press_button's edges: 2nd press / the release
PAUSE_S = 0.4


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def measure(device, observer, event, count):
    to_wire, to_servo = [], []
    for _ in range(count):
        starts_before = len(dispense_starts(device.trace()))
        edge = press_button(device.flash, event)[DECIDING_EDGE[event]]
        topic, payload, _ = observer.receive(timeout_s=10)
        to_wire.append((time.monotonic() - edge) * 1000)
        assert json.loads(payload)["event"] == event, payload
        deadline = time.monotonic() + 5
        while len(dispense_starts(device.trace())) <= starts_before:
            assert time.monotonic() < deadline, "no dispense for %s" % event
            time.sleep(0.01)
        start_us = dispense_starts(device.trace())[starts_before][0]
        to_servo.append(start_us / 1000 - edge * 1000)
        time.sleep(PAUSE_S)
    return to_wire, to_servo


def main():
    with tempfile.TemporaryDirectory() as workdir:
        pki = Pki(os.path.join(workdir, "pki"), "cat-feeder").ensure()
        with Broker(pki, os.path.join(workdir, "broker")) as broker:
            config = rig_config(broker.port, button={"pin": 5}, sim={"servo_wait": False})
            device = Device(os.path.join(workdir, "flash"), pki, config, compiled=True)
            observer = MqttClient(pki, broker.port, "observer")
            observer.subscribe("cat-feeder/+/button", qos=1)
            device.start().wait_up()
            try:
                print("button end to end (%s)" % COMMAND_LINE)
                for event, count in PRESSES.items():
                    to_wire, to_servo = measure(device, observer, event, count)
                    edge = "second press" if event == "DOUBLE" else "release"
                    print("  %-6s from its %-12s to the press on the wire: p50 %5.1f ms, p99 %5.1f ms (%d)"
                          % (event, edge, percentile(to_wire, 0.5), percentile(to_wire, 0.99), count))
                    print("  %-6s from its %-12s to servo start (local-first): p50 %5.1f ms, p99 %5.1f ms"
                          % (event, edge, percentile(to_servo, 0.5), percentile(to_servo, 0.99)))
            finally:
                device.kill()
                observer.close()


main()
