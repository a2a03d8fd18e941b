"""Per-thing topics (docs/protocol.md, "Topics") with two feeders and a remote button on one broker: the
project's ACL (cloud/hub/acl.py, the household's things) over mutual TLS grants each certificate only its
own thing's topics, a button only its presses, the hub takes a state's thing from its topic, and a command
for one feeder moves only that feeder's servos (the firmware on MicroPython).

Feeder A is the PKI's own thing (cat-feeder), feeder B and the button more certificates of the same CA."""

import json
import subprocess
import sys
import time

import pytest

from cloud import household as household_mod
from cloud.hub import ledger as ledger_mod
from cloud.hub.broker import Broker
from cloud.hub.hub import Hub
from cloud.hub.pki import Pki
from cloud.hub.processes import end_process, free_port
from cloud.topology import THING, action_topic, button_topic, states_topic
from rigs.device import Device, dispense_starts, rig_config, wait_for

B = "feeder-b"
BUTTON = "hall-button"
HOUSEHOLD_TOPOLOGY = household_mod.topology(household_mod.validate(
    {"things": [{"thing": THING}, {"thing": B}, {"thing": BUTTON, "role": "button", "feeds": B}]}))


@pytest.fixture
def broker(pki, tmp_path):
    """The project's broker, its ACL written for the household of feeders A and B and B's remote button."""
    instance = Broker(pki, str(tmp_path / "broker"), things=HOUSEHOLD_TOPOLOGY["things"]).start()
    yield instance
    instance.stop()


@pytest.fixture
def feeder_b(pki):
    """The name of feeder B's certificate (CN feeder-b), issued by the development CA."""
    return pki.device(B)


def test_feeder_a_cannot_hear_bs_commands_nor_speak_on_bs_states_or_button(mqtt, feeder_b):
    own_b = mqtt(feeder_b)
    assert own_b.subscribe(action_topic(B), 1) == 1
    a = mqtt("device")
    # mosquitto grants the SUBSCRIBE and then delivers nothing on it (cloud/hub/broker.py).
    a.subscribe(action_topic(B), 1)
    assert a.subscribe(action_topic(THING), 1) == 1
    hub_seat = mqtt("hub")  # reads every states and button topic, as the topic rules do
    assert hub_seat.subscribe("cat-feeder/+/states", 1) == 1
    assert hub_seat.subscribe("cat-feeder/+/button", 1) == 1

    mqtt("publisher").publish(action_topic(B), b"for-b", qos=1)
    assert own_b.receive(5)[:2] == (action_topic(B), b"for-b")
    a.publish(states_topic(B), b"forged-state", qos=1)  # acknowledged, then dropped
    a.publish(button_topic(B), b"forged-press", qos=1)
    a.publish(states_topic(THING), b"own-state", qos=1)
    a.publish(button_topic(THING), b"own-press", qos=1)
    assert [hub_seat.receive(5)[:2] for _ in range(2)] == [
        (states_topic(THING), b"own-state"), (button_topic(THING), b"own-press")]
    mqtt("publisher").publish(action_topic(THING), b"for-a", qos=1)
    # A's next message is its own command: B's never reached it.
    assert a.receive(5)[:2] == (action_topic(THING), b"for-a")
    assert hub_seat.receive(0.3) is None and own_b.receive(0.3) is None


def test_a_button_may_publish_its_own_presses_and_nothing_else(mqtt, pki):
    button = mqtt(pki.device(BUTTON))
    # Granted by mosquitto, then nothing is delivered on them (cloud/hub/broker.py).
    button.subscribe(action_topic(BUTTON), 1)
    button.subscribe(action_topic(B), 1)
    button.subscribe("cat-feeder/+/action", 1)
    b = mqtt(pki.device(B))
    assert b.subscribe(action_topic(B), 1) == 1
    hub_seat = mqtt("hub")
    assert hub_seat.subscribe("cat-feeder/+/states", 1) == 1
    assert hub_seat.subscribe("cat-feeder/+/button", 1) == 1

    for thing in (BUTTON, B):
        mqtt("publisher").publish(action_topic(thing), b"for-" + thing.encode(), qos=1)
    assert b.receive(5)[:2] == (action_topic(B), b"for-feeder-b")
    button.publish(states_topic(BUTTON), b"own-state", qos=1)  # a button has no status: dropped
    button.publish(button_topic(B), b"forged-press", qos=1)
    button.publish(button_topic(BUTTON), b"own-press", qos=1)
    assert hub_seat.receive(5)[:2] == (button_topic(BUTTON), b"own-press")
    assert hub_seat.receive(0.3) is None and button.receive(0.3) is None


def test_a_certificate_of_the_ca_whose_thing_is_not_in_the_household_may_do_nothing(mqtt, pki):
    stranger = mqtt(pki.device("porch"))
    stranger.subscribe(action_topic("porch"), 1)
    hub_seat = mqtt("hub")
    assert hub_seat.subscribe("cat-feeder/+/button", 1) == 1
    assert hub_seat.subscribe("cat-feeder/+/states", 1) == 1
    mqtt("publisher").publish(action_topic("porch"), b"for-porch", qos=1)
    stranger.publish(button_topic("porch"), b"press", qos=1)
    stranger.publish(states_topic("porch"), b"state", qos=1)
    assert stranger.receive(0.5) is None and hub_seat.receive(0.3) is None


def test_a_state_on_as_topic_claiming_b_is_as_in_the_ledger(hub, mqtt, feeder_b):
    """Issue 16, defect 5, on the hub: the topic names the sender; the payload's `thing` is replaced."""
    a = mqtt("device")
    claim = {"v": 1, "type": "status", "thing": B, "status": "online", "at": int(time.time())}
    a.publish(states_topic(THING), json.dumps(claim), 1)
    mqtt(feeder_b).publish(states_topic(B), json.dumps(dict(claim, status="offline")), 1)

    def statuses():
        db = ledger_mod.connect(hub.ledger_path, readonly=True)
        return sorted((e["detail"]["thing"], e["detail"]["status"]) for _, e in ledger_mod.read(db))

    wait_for(lambda: len(statuses()) == 2, 10, "both status events in the ledger")
    assert statuses() == [(THING, "online"), (B, "offline")]


@pytest.fixture
def feeders(broker, pki, feeder_b, tmp_path):
    """Feeders A and B, each the firmware on MicroPython with its own certificate, both up."""
    devices = {
        thing: Device(tmp_path / thing, pki, rig_config(broker.port, thing=thing), compiled=True)
        for thing in (THING, B)
    }
    try:
        for device in devices.values():
            device.start()
        for device in devices.values():
            device.wait_up()
        yield devices
    finally:
        for device in devices.values():
            device.kill()


def test_on_one_hub_a_press_on_each_feeder_moves_only_that_feeders_servos(hub, pki, feeder_b, mqtt, feeders):
    now = int(time.time())
    # Each press as its own board publishes it.
    press = {"v": 1, "event": "SINGLE", "at": now, "seq": 1}
    mqtt("device").publish(button_topic(THING), json.dumps(press), 1)
    wait_for(lambda: dispense_starts(feeders[THING].trace()), 10, "feeder A's dispense")
    mqtt(feeder_b).publish(button_topic(B), json.dumps(dict(press, event="DOUBLE")), 1)
    wait_for(lambda: dispense_starts(feeders[B].trace()), 10, "feeder B's dispense")
    time.sleep(0.3)  # a command for the other feeder would arrive within milliseconds
    # SINGLE = left bowl (pin 3) on A only; DOUBLE = right bowl (pin 4) on B only; each once.
    assert [pin for _, pin, _ in dispense_starts(feeders[THING].trace())] == [3]
    assert [pin for _, pin, _ in dispense_starts(feeders[B].trace())] == [4]


def test_a_remote_buttons_press_moves_only_the_feeder_the_household_maps_it_to(broker, pki, mqtt, feeders,
                                                                                tmp_path):
    hub = Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port, topology=HOUSEHOLD_TOPOLOGY).start()
    try:
        press = {"v": 1, "event": "LONG", "at": int(time.time()), "seq": 1}
        mqtt(pki.device(BUTTON)).publish(button_topic(BUTTON), json.dumps(press), 1)
        wait_for(lambda: len(dispense_starts(feeders[B].trace())) == 2, 10, "feeder B's two bowls")
        time.sleep(0.3)  # a command for feeder A would arrive within milliseconds
        # LONG = both bowls (pins 3 and 4), on B only.
        assert sorted(pin for _, pin, _ in dispense_starts(feeders[B].trace())) == [3, 4]
        assert dispense_starts(feeders[THING].trace()) == []
    finally:
        hub.stop()


def test_make_hub_writes_the_households_acl_and_issues_its_certificates_at_start(tmp_path):
    """`python -m cloud.hub run --household FILE`, as `make hub` runs it."""
    path = tmp_path / "household.json"
    path.write_text(json.dumps({"things": [{"thing": "kitchen"}, {"thing": BUTTON, "role": "button",
                                                                  "feeds": "kitchen"}]}))
    pki_dir, data, log_path = tmp_path / "pki", tmp_path / "hub", tmp_path / "hub.log"
    Pki(str(pki_dir), key_type="ec").ensure()  # EC keys for the CA and the hub's identities: quicker
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cloud.hub", "run", "--data-dir", str(data), "--pki",
                                 str(pki_dir), "--port", str(free_port()), "--household", str(path)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "Ctrl-C stops" in log_path.read_text() or proc.poll() is not None, 30, "the hub")
        assert proc.poll() is None, log_path.read_text()
        said = "hub: household %s: feeders kitchen; buttons %s; alerts to 0 destinations" % (path, BUTTON)
        assert said in log_path.read_text()
        acl = (data / "broker" / "acl").read_text().splitlines()
        users = [line for line in acl if line.startswith("user ")]
        assert users == ["user cloud-publisher", "user cloud-observer", "user cloud-hub", "user kitchen",
                         "user " + BUTTON]
        for thing in ("kitchen", BUTTON):
            assert (pki_dir / ("device-%s.crt.der" % thing)).exists()
    finally:
        end_process(proc)
