"""firmware/link.py on the real MicroPython interpreter against mosquitto over mutual TLS.

The device side is link_driver.py (events on stdout, commands on stdin); the cloud side is
tools.mqttc as the cloud publisher (commands) and the cloud observer (states). Faults go
through tools.faultproxy. Short keepalive/timeouts/backoff keep the file well under a minute.
"""

import json
import socket
import ssl
import threading

import pytest

from cloud.hub.processes import free_port
from cloud.topology import THING, action_topic, states_topic

ACTION = action_topic(THING)
STATES = states_topic(THING)
# Worst case from "link dead" to "up again": detection (ping interval + timeout) + cap + connect.
RECOVERY_S = 10


def observe(mqtt):
    observer = mqtt("observer")
    assert observer.subscribe(STATES, 1) == 1
    return observer


def receive_status(observer, status):
    while True:
        message = observer.receive(RECOVERY_S)
        assert message is not None, "no %s status" % status
        body = json.loads(message[1])
        if body.get("type") == "status" and body["status"] == status:
            return body


def test_command_in_and_qos1_publish_out(broker, mqtt, link_device):
    observer = observe(mqtt)
    link = link_device(broker.port)
    online = receive_status(observer, "online")
    assert online["thing"] == "cat-feeder" and online["v"] == 1 and isinstance(online["at"], int)

    mqtt("publisher").publish(ACTION, b'{"v":1,"id":"a1"}', qos=1)
    assert link.expect("msg ") == 'msg %s {"v":1,"id":"a1"}' % ACTION

    link.send("pub 1 %s result-1" % STATES)
    written, pid = link.expect("pub ").split()[1:]
    assert written == "1"
    assert link.expect("ack ") == "ack " + pid  # the PUBACK arrived for exactly this message
    assert observer.receive(5)[:2] == (STATES, b"result-1")


def loaded_modules(link):
    link.send("modules")
    return link.expect("modules ").split()[1:]


def test_the_connect_code_leaves_the_heap_after_a_connect_and_after_a_failed_one(broker, link_device):
    up = link_device(broker.port)
    loaded = loaded_modules(up)
    assert "link" in loaded and "hal_sim" in loaded  # the list is sys.modules
    assert [name for name in loaded if name in ("connect", "umqtt", "umqtt.simple", "ssl")] == []
    refused = link_device(free_port(), expect_up=False)  # nothing listens there
    assert refused.expect("err ").startswith("err tcp: ")
    loaded = loaded_modules(refused)
    assert "link" in loaded
    assert [name for name in loaded if name in ("connect", "umqtt", "umqtt.simple", "ssl")] == []


def test_a_burst_of_commands_is_dispatched_without_waiting_for_other_traffic(broker, mqtt, link_device):
    # keepalive 60 s: no ping for 30 s, so a command left in the TLS layer's buffer (not seen by
    # poll) would wait for the next ping's answer and miss the 5 s expectation by far.
    link = link_device(broker.port, keepalive_s=60)
    publisher = mqtt("publisher")
    for n in range(5):
        publisher.publish(ACTION, b"burst-%d" % n, qos=1)
    assert [link.expect("msg ", timeout_s=5) for _ in range(5)] == [
        "msg %s burst-%d" % (ACTION, n) for n in range(5)]


def test_packet_ids_wrap_within_1_to_65535(broker, mqtt, link_device):
    observer = observe(mqtt)
    link = link_device(broker.port)
    link.send("pid 65534")
    for payload in ("last-id", "wrapped"):
        link.send("pub 1 %s %s" % (STATES, payload))
    assert link.expect("pub ") == "pub 1 65535"
    assert link.expect("pub ") == "pub 1 1"
    received = [observer.receive(5)[1] for _ in range(3)]
    assert received[1:] == [b"last-id", b"wrapped"]
    assert "down" not in link.seen


def test_pings_keep_an_idle_link_alive(broker, mqtt, link_device):
    # keepalive 1 s: without pings mosquitto 2.0 drops a silent client after 1.5 s, checked
    # about every 5 s (seen: dropped 6 s after connect), so 8 s of idling exposes missing pings.
    link = link_device(broker.port, keepalive_s=1)
    with pytest.raises(AssertionError):
        link.expect("down", timeout_s=8)
    mqtt("publisher").publish(ACTION, b"still-there", qos=1)
    assert link.expect("msg ").endswith("still-there")
    assert not [line for line in link.seen if line.startswith(("down", "err", "up 2"))]


def test_stalled_link_is_detected_and_recovered(broker, proxy, mqtt, link_device):
    link = link_device(proxy.port, keepalive_s=2, timeout_ms=1000)
    proxy.stall()
    assert "no PINGRESP" in link.expect("err ", timeout_s=RECOVERY_S)
    link.expect("down")
    proxy.resume()
    link.expect("up 2", timeout_s=RECOVERY_S)
    mqtt("publisher").publish(ACTION, b"after-stall", qos=1)
    assert link.expect("msg ").endswith("after-stall")


@pytest.mark.parametrize("fault", ["cut", "half_close"])
def test_cut_and_half_closed_links_recover(fault, broker, proxy, mqtt, link_device):
    observer = observe(mqtt)
    link = link_device(proxy.port)
    receive_status(observer, "online")
    getattr(proxy, fault)()
    link.expect("down", timeout_s=RECOVERY_S)
    # The socket was closed without DISCONNECT, so the broker publishes the last will.
    assert receive_status(observer, "offline") == {
        "v": 1, "type": "status", "thing": "cat-feeder", "status": "offline"}
    link.expect("up 2", timeout_s=RECOVERY_S)
    receive_status(observer, "online")
    mqtt("publisher").publish(ACTION, b"after-" + fault.encode(), qos=1)
    assert link.expect("msg ").endswith("after-" + fault)


def test_commands_sent_while_down_arrive_after_reconnect_even_across_a_broker_restart(
        broker, proxy, mqtt, link_device):
    observer = observe(mqtt)
    link = link_device(proxy.port)
    # "up" is printed once SUBSCRIBE is written; the broker handles the `online` after it on the same
    # connection, so once that arrives the session holds the subscription the queued commands need.
    receive_status(observer, "online")
    proxy.refuse(True)
    proxy.cut()
    link.expect("down", timeout_s=RECOVERY_S)
    receive_status(observer, "offline")  # the broker has seen the session end
    publisher = mqtt("publisher")
    for n in range(3):
        publisher.publish(ACTION, b"queued-%d" % n, qos=1)
    publisher.close()
    observer.close()
    broker.restart()  # a new mosquitto process: the queue survives only through the persistence file
    proxy.refuse(False)
    link.expect("up 2", timeout_s=RECOVERY_S)
    # Queued messages follow CONNACK; the link reads them in its next polls, in order.
    delivered = [link.expect("msg ", timeout_s=RECOVERY_S) for _ in range(3)]
    assert delivered == ["msg %s queued-%d" % (ACTION, n) for n in range(3)]
    assert not [line for line in link.seen if line.startswith("msg ") and line not in delivered]


@pytest.fixture
def scripted_broker(pki):
    """A TLS server with the real broker certificate that answers every CONNECT with `connack`
    (4 bytes), or never when None: the refusals and silences mosquitto cannot be made to show."""
    servers = []

    def start(connack):
        listener = socket.create_server(("127.0.0.1", 0))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.path("broker.crt"), pki.path("broker.key"))
        held = []

        def serve():
            while True:
                try:
                    raw, _ = listener.accept()
                    conn = context.wrap_socket(raw, server_side=True)
                    conn.recv(1024)  # the CONNECT
                except OSError:
                    if listener.fileno() < 0:
                        return
                    continue
                held.append(conn)
                if connack is not None:
                    conn.sendall(connack)

        threading.Thread(target=serve, daemon=True).start()
        servers.append((listener, held))
        return listener.getsockname()[1]

    yield start
    for listener, held in servers:
        listener.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize("connack, error", [
    (b"\x20\x02\x00\x05", "connack: refused, code 5 (not authorized)"),
    (b"\x20\x02\x00\x09", "connack: refused, code 9 (unknown)"),
    (None, "connack: no answer within 1000 ms"),
    (b"\x30\x02\x00\x00", "connack: not a CONNACK (4 bytes, first 0x30)"),
])
def test_a_refused_or_unanswered_connect_says_so(connack, error, scripted_broker, link_device):
    link = link_device(scripted_broker(connack), expect_up=False, timeout_ms=1000)
    assert link.expect("err ", timeout_s=5) == "err " + error
    assert [name for name in loaded_modules(link) if name in ("connect", "umqtt.simple", "ssl")] == []


def test_a_refused_subscription_drops_the_link_and_says_so(scripted_broker, link_device):
    # CONNACK without a session, so the link subscribes (packet id 1); SUBACK grants nothing (0x80).
    link = link_device(scripted_broker(b"\x20\x02\x00\x00" + b"\x90\x03\x00\x01\x80"), timeout_ms=1000)
    assert link.expect("err ", timeout_s=5) == "err subscribe: refused by the broker (SUBACK 0x80)"
    link.expect("down")


def test_a_missing_certificate_file_fails_each_attempt_not_the_start(broker, link_device, tmp_path):
    link = link_device(broker.port, expect_up=False, key=str(tmp_path / "no-such-key.der"))
    assert link.expect("err ") == "err tls: OSError(2)"
    assert link.expect("err ", timeout_s=5) == "err tls: OSError(2)"  # and it keeps trying
    assert "New client connected" not in broker.log()
