"""`make press` against the hub's broker: real mosquitto over mutual TLS, the publisher certificate."""

import json
import os

from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import Hub
from cloud.hub.processes import free_port
from firmware.press import press_id
from tests.makerun import make, own_lines

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_press(*variables):
    # No household file: the single feeder cat-feeder, whatever household.json the checkout holds.
    absent = os.path.join(ROOT, "no-such-household.json")
    return make("press", "HOUSEHOLD=%s" % absent, *variables, timeout=60)


def test_make_press_publishes_a_v1_press_the_button_rule_receives(pki, broker, mqtt):
    observer = mqtt("observer")  # stands in for the IoT rule on cat-feeder/+/button
    assert observer.subscribe("cat-feeder/+/button", qos=1) == 1
    done = make_press("EVENT=DOUBLE", "BROKER_PORT=%d" % broker.port, "PKI=%s" % pki.dir)
    assert done.returncode == 0, done.stderr
    topic, payload, _ = observer.receive(timeout_s=5)
    press = json.loads(payload)
    assert topic == "cat-feeder/cat-feeder/button"
    assert set(press) == {"v", "event", "at", "seq"} and (press["v"], press["event"]) == (1, "DOUBLE")
    assert type(press["at"]) is int and type(press["seq"]) is int
    assert press_id("cat-feeder", "DOUBLE", press["at"], press["seq"]) in done.stdout
    assert done.stdout.startswith("press: DOUBLE for feeder cat-feeder (Feeder) published on")


def test_make_press_reaches_the_hubs_ledger_and_becomes_a_command(pki, broker, mqtt, tmp_path):
    """The real hub (cloud/hub/) behind the broker: the press is in its ledger with the id make press
    printed, and the feeds rule sends the feeder its command."""
    feeder = mqtt("device", client_id="cat-feeder")
    assert feeder.subscribe("cat-feeder/cat-feeder/action", 1) == 1
    hub = Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port).start()
    try:
        done = make_press("EVENT=LONG", "BROKER_PORT=%d" % broker.port, "PKI=%s" % pki.dir)
        assert done.returncode == 0, done.stderr
        _, payload, _ = feeder.receive(timeout_s=10)
        command = json.loads(payload)
        assert command["event"] == "LONG" and command["id"] in done.stdout
        db = ledger_mod.connect(hub.ledger_path, readonly=True)
        pressed = [
            e["detail"]["press_id"] for _, e in ledger_mod.read(db) if e["detail-type"] == "FeedRequested"
        ]
        assert pressed == [command["id"]]
    finally:
        hub.stop()


def test_two_quick_presses_get_two_ids(pki, broker, mqtt):
    observer = mqtt("observer")
    observer.subscribe("cat-feeder/+/button", qos=1)
    for _ in range(2):
        assert make_press("EVENT=SINGLE", "BROKER_PORT=%d" % broker.port, "PKI=%s" % pki.dir).returncode == 0
    presses = [json.loads(observer.receive(timeout_s=5)[1]) for _ in range(2)]
    ids = {press_id("cat-feeder", p["event"], p["at"], p["seq"]) for p in presses}
    assert len(ids) == 2


def test_a_device_may_press_only_its_own_button(pki, broker, mqtt):
    """The ACL mirrors the IoT policy: cat-feeder/<own thing>/button, nothing else."""
    observer = mqtt("observer")
    observer.subscribe("cat-feeder/+/button", qos=1)
    device = mqtt("device")
    device.publish("cat-feeder/other-feeder/button", b'{"v": 1}', qos=1)  # acknowledged, then dropped
    device.publish("cat-feeder/cat-feeder/button", b'{"v": 1, "own": true}', qos=1)
    topic, payload, _ = observer.receive(timeout_s=5)
    assert (topic, json.loads(payload)) == ("cat-feeder/cat-feeder/button", {"v": 1, "own": True})
    assert observer.receive(timeout_s=0.5) is None


def test_make_press_errors_are_one_actionable_line(tmp_path, pki, broker):
    empty, real = "PKI=%s" % tmp_path, "PKI=%s" % pki.dir
    cases = [
        (("EVENT=TRIPLE",), "press: EVENT=TRIPLE: expected SINGLE, DOUBLE or LONG"),
        (("EVENT=SINGLE", "BROKER_PORT=%d" % broker.port, empty), "press: no publisher certificate in"),
        (("EVENT=SINGLE", "BROKER_PORT=%d" % free_port(), real), "press: no broker listening on 127.0.0.1:"),
    ]
    for variables, message in cases:
        done = make_press(*variables)
        assert done.returncode != 0
        (line,) = own_lines(done.stderr)
        assert line.startswith(message), done.stderr
