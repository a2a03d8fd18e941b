"""The board's own button end to end: the whole firmware on MicroPython's unix port, its virtual
button (tools/sim_board.py) pressed as a finger would, mosquitto over mutual TLS as IoT Core.

- a feeder's SINGLE / DOUBLE / LONG: the servo trace moves the right bowls at once (local-first),
  the press reaches cat-feeder/<thing>/button, and the cloud's command for that press id is
  answered `duplicate` with no second movement;
- with the broker down, a press still feeds, and is published after the broker comes back;
- a `button` board (no servos) publishes its presses and nothing else."""

import json
import time

import pytest

from firmware.press import press_id
from rigs.device import ACTION, Device, Observer, command, dispense_starts, rig_config
from tools.mqttc import MqttClient
from tools.sim_board import press_button

BOWL_PINS = {"SINGLE": [3], "DOUBLE": [4], "LONG": [3, 4]}
BUTTON = {"pin": 5}


class Presses:
    """The IoT topic rule's seat: every press on cat-feeder/+/button, decoded."""

    def __init__(self, pki, port):
        self.client = MqttClient(pki, port, "observer")
        assert self.client.subscribe("cat-feeder/+/button", qos=1) == 1

    def next(self, timeout_s=10):
        got = self.client.receive(timeout_s=timeout_s)
        assert got is not None, "no press published within %s s" % timeout_s
        topic, payload, _ = got
        return topic, json.loads(payload)


def dispensed_pins(device, count, timeout_s=10):
    """The pins of the first `count` dispense moves in the servo trace, once they are there."""
    deadline = time.monotonic() + timeout_s
    while len(dispense_starts(device.trace())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pin for _, pin, _ in dispense_starts(device.trace())]


def results_for(observer, pid, count, timeout_s=15):
    """The first `count` results for pid, in seq order."""
    deadline = time.monotonic() + timeout_s
    while len(observer.by_id().get(pid, [])) < count:
        assert time.monotonic() < deadline, "results for %s: %r" % (pid, observer.by_id().get(pid))
        observer.pump(1.0)
    return observer.by_id()[pid][:count]


@pytest.fixture
def feeder(tmp_path, pki, broker):
    device = Device(tmp_path / "flash", pki, rig_config(broker.port, button=dict(BUTTON)), compiled=True)
    device.start().wait_up()
    yield device
    device.kill()


@pytest.mark.parametrize("event", ["SINGLE", "DOUBLE", "LONG"])
def test_a_press_feeds_at_once_is_published_and_the_clouds_command_is_a_duplicate(pki, broker, feeder, event):
    presses = Presses(pki, broker.port)
    observer = Observer(pki, broker.port)
    press_button(feeder.flash, event)
    topic, message = presses.next()
    assert topic == "cat-feeder/cat-feeder/button"
    assert (message["v"], message["event"]) == (1, event) and type(message["at"]) is int
    pid = press_id("cat-feeder", event, message["at"], message["seq"])
    assert dispensed_pins(feeder, len(BOWL_PINS[event])) == BOWL_PINS[event]

    # The cloud's command for this press (what the button handler and feeder function send).
    MqttClient(pki, broker.port, "publisher").publish(ACTION, command(pid, event, message["at"]), qos=1)
    assert [r["status"] for r in results_for(observer, pid, 2)] == ["dispensed", "duplicate"]
    assert [pin for _, pin, _ in dispense_starts(feeder.trace())] == BOWL_PINS[event]  # nothing twice
    observer.close()


def test_with_the_broker_down_a_press_still_feeds_and_is_published_after_the_reconnect(pki, broker, feeder):
    broker.stop()
    feeder.expect("app: down")
    press_button(feeder.flash, "SINGLE")
    feeder.expect("button: SINGLE")
    assert dispensed_pins(feeder, 1) == [3]  # fed with no network
    broker.start()
    presses = Presses(pki, broker.port)
    feeder.wait_up(timeout_s=20)
    _, message = presses.next(timeout_s=20)
    assert message["event"] == "SINGLE"


def test_a_button_board_publishes_its_presses_and_moves_nothing(tmp_path, pki, broker):
    config = rig_config(broker.port, role="button", button=dict(BUTTON))
    del config["servos"]
    device = Device(tmp_path / "flash", pki, config, compiled=True)
    device.start().wait_up()
    try:
        presses = Presses(pki, broker.port)
        press_button(device.flash, "DOUBLE")
        _, message = presses.next()
        assert message["event"] == "DOUBLE"
        assert device.trace() == []
    finally:
        device.kill()
