"""Who may talk to whom: TLS identity checks on both sides and the ACL that mirrors the IoT policies.

Each refusal is checked for its reason (the TLS error text or mosquitto's log line), and each has
an accepted counterpart in the same test or in test_link.py, so a test cannot pass by a broker
that refuses everything.
"""

import ssl

import pytest

from cloud.hub.broker import Broker
from cloud.topology import THING, action_topic, states_topic

ACTION = action_topic(THING)
STATES = states_topic(THING)


@pytest.fixture
def broker_with(pki, tmp_path):
    brokers = []

    def start(server_cert):
        brokers.append(Broker(pki, str(tmp_path / server_cert), server_cert=server_cert).start())
        return brokers[-1]

    yield start
    for broker in brokers:
        broker.stop()


@pytest.mark.parametrize(
    "server_cert, reason",
    [
        ("rogue-broker", "not correctly signed by the trusted CA"),  # right host name, other CA
        ("wrong-host-broker", "does not match with the expected CN"),  # right CA, other host name
    ],
)
def test_device_refuses_an_untrusted_broker(server_cert, reason, broker_with, link_device):
    broker = broker_with(server_cert)
    device = link_device(broker.port, expect_up=False)
    assert reason in device.expect("err ")
    assert reason in device.expect("err ", timeout_s=5)  # it keeps retrying, and keeps refusing
    assert not [line for line in device.seen if line.startswith("up")]
    assert "New client connected" not in broker.log()


@pytest.mark.parametrize(
    "identity, logged",
    [
        (None, "peer did not return a certificate"),
        ("rogue-device", "certificate verify failed"),  # CN is the thing name, signed by another CA
    ],
)
def test_broker_refuses_a_device_without_a_trusted_certificate(identity, logged, broker, mqtt):
    with pytest.raises(ssl.SSLError):
        mqtt(identity)
    assert broker.wait_for_log(logged), broker.log()
    mqtt("device")  # the same client with the real device certificate gets in


def test_broker_refuses_the_rogue_certificate_from_the_device_firmware(broker, link_device):
    device = link_device(broker.port, expect_up=False, identity="rogue-device")
    device.expect("err ")
    device.expect("err ", timeout_s=5)
    assert not [line for line in device.seen if line.startswith("up")]
    assert broker.wait_for_log("certificate verify failed"), broker.log()


READER = {ACTION: "device", STATES: "observer"}
WRITER = {ACTION: "publisher", STATES: "device"}


@pytest.mark.parametrize(
    "identity, subscription, topic",
    [
        ("publisher", ACTION, ACTION),
        ("publisher", "#", STATES),
        ("device", STATES, STATES),
        ("device", "#", STATES),
        ("observer", ACTION, ACTION),
        ("observer", "#", ACTION),
    ],
)
def test_subscriptions_outside_the_policy_receive_nothing(identity, subscription, topic, mqtt):
    # mosquitto 2.0's ACL file does not refuse the SUBSCRIBE itself (SUBACK grants it, checked
    # here); it checks `read` on each delivery, so the snooper never gets a message.
    snooper = mqtt(identity)
    assert snooper.subscribe(subscription, 1) == 1
    reader = mqtt(READER[topic])
    assert reader.subscribe(topic, 1) == 1
    mqtt(WRITER[topic]).publish(topic, b"private", qos=1)
    assert reader.receive(5)[:2] == (topic, b"private")
    assert snooper.receive(0.5) is None


def test_device_cannot_publish_commands(broker, mqtt, link_device):
    device = link_device(broker.port)
    # MQTT 3.1.1 has no negative PUBACK: mosquitto acknowledges the refused publish and drops it.
    device.send("pub 1 %s forged" % ACTION)
    assert device.expect("pub ").startswith("pub 1 ")
    mqtt("publisher").publish(ACTION, b"genuine", qos=1)
    # The device is itself subscribed to the action topic: it gets the genuine command only.
    assert device.expect("msg ") == "msg %s genuine" % ACTION
    assert "forged" not in " ".join(device.seen[:-1])


def test_publisher_cannot_publish_states(mqtt):
    observer = mqtt("observer")
    assert observer.subscribe(STATES, 1) == 1
    mqtt("publisher").publish(STATES, b"forged", qos=1)
    mqtt("device").publish(STATES, b"genuine", qos=1)
    topic, payload, _ = observer.receive(5)
    assert (topic, payload) == (STATES, b"genuine")
