"""The device's link under faults, over the wire: a result leaves the outbox only after its PUBACK,
and every failed connect says why, in the log and in telemetry."""

import time

import pytest

from cloud.hub.broker import Broker
from cloud.hub.processes import free_port
from rigs.device import (
    ACTION,
    Device,
    Observer,
    command,
    dispense_starts,
    rig_config,
    wait_for,
)


def test_a_result_whose_puback_is_lost_is_sent_again_with_the_same_seq(tmp_path, pki, broker, proxy, mqtt):
    observer = Observer(pki, broker.port)
    device = Device(tmp_path / "flash", pki, rig_config(proxy.port)).start()
    device.wait_up()
    mqtt("publisher").publish(ACTION, command("puback-lost"))
    # The command reached the device (its gate opens); from now on nothing reaches the device, so
    # the broker's PUBACK for the result is lost while the result itself still gets through.
    wait_for(lambda: dispense_starts(device.trace()), 5, "the dispense")
    proxy.hold_to_device()
    observer.collect(["puback-lost"])
    proxy.cut()
    proxy.hold_to_device(False)
    device.expect("app: up 2", timeout_s=15)
    deadline = time.monotonic() + 10
    while len([r for r in observer.deliveries if r["id"] == "puback-lost"]) < 2:
        assert time.monotonic() < deadline, "the result was not sent again: acked before its PUBACK?"
        observer.pump(0.5)
    sent = [r for r in observer.deliveries if r["id"] == "puback-lost"]
    assert [r["seq"] for r in sent] == [1, 1] and sent[0] == sent[1]
    mqtt("publisher").publish(ACTION, command("next"))
    assert observer.collect(["next"])["next"][0]["seq"] == 2
    device.kill()
    observer.close()


@pytest.mark.parametrize("server, logged", [
    (None, "tcp: OSError(111)"),  # broker down: nothing listens
    ("rogue-broker", "tls: ValueError(The certificate is not correctly signed by the trusted CA)"),
    ("wrong-host-broker",
     "tls: ValueError(The certificate Common Name (CN) does not match with the expected CN)"),
])
def test_each_failed_connect_is_logged_with_its_reason(server, logged, tmp_path, pki):
    broker = Broker(pki, str(tmp_path / "broker"), server_cert=server).start() if server else None
    try:
        port = broker.port if broker else free_port()
        device = Device(tmp_path / "flash", pki, rig_config(port)).start()
        first = device.expect("app: connect failed 1 ")
        second = device.expect("app: connect failed 2 ", timeout_s=5)  # it keeps trying, and says why
        assert first == "app: connect failed 1 " + logged and second.endswith(logged)
        assert not [line for line in device.output() if line.startswith("app: up")]
        device.kill()
    finally:
        if broker:
            broker.stop()


def test_telemetry_reports_connect_failures_the_last_error_and_the_cap(tmp_path, pki, broker, proxy):
    observer = Observer(pki, broker.port)
    proxy.refuse(True)  # the broker is unreachable: connections are reset at once
    device = Device(tmp_path / "flash", pki, rig_config(proxy.port, telemetry_interval_s=10)).start()
    device.expect("app: connect failed 2 ", timeout_s=10)
    proxy.refuse(False)
    device.wait_up()
    telemetry = observer.wait_for_telemetry()
    assert telemetry["connect_failures"] >= 2
    assert telemetry["last_error"].startswith("tls: ")  # the TCP connect worked, the handshake met a reset
    assert telemetry["portions_hour"] == {"left": 0, "right": 0} == telemetry["portions_day"]
    assert (telemetry["max_portions_per_hour"], telemetry["max_portions_per_day"]) == (128, 128)
    device.kill()
    observer.close()
