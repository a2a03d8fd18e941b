"""firmware/link.py against a broker that lies: the device's hand-written MQTT reader on the real
MicroPython interpreter (a board's small heap), over TLS with the real broker certificate.

The rogue broker accepts the session (CONNACK, SUBACK) and then sends what a test scripts. What the
device must do (link.py's docstring): drop the session with one `session: ...` line and connect again
with backoff, never allocate what a packet claims, and never stay inside one poll (its main loop serves
the button and feeds the watchdog between polls). The driver answers `modules` only between two polls,
so its answer proves the loop still turns.
"""

import json
import socket
import ssl
import threading
import time

import pytest

from rigs.device import Device, dispense_starts, rig_config, wait_for
from tests.integration.conftest import LINK_DRIVER
from tools.sim_board import press_button

CONNACK = b"\x20\x02\x00\x00"
SUBACK = b"\x90\x03\x00\x01\x01"


def remaining_length(size):
    out = bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(out)


@pytest.fixture
def rogue(pki):
    """`rogue(script)` -> port: each connection gets CONNACK and SUBACK, then `script(conn)` runs
    (bytes: sent, then the connection is held open)."""
    listener = socket.create_server(("127.0.0.1", 0))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.path("broker.crt"), pki.path("broker.key"))
    held = []

    def start(script):
        def serve():
            while True:
                try:
                    raw, _ = listener.accept()
                    conn = context.wrap_socket(raw, server_side=True)
                    conn.recv(1024)  # CONNECT
                    conn.sendall(CONNACK)
                    conn.recv(1024)  # SUBSCRIBE
                    conn.sendall(SUBACK)
                except OSError:
                    if listener.fileno() < 0:
                        return
                    continue
                held.append(conn)
                if callable(script):
                    threading.Thread(target=run, args=(script, conn), daemon=True).start()
                else:
                    try:
                        conn.sendall(script)
                    except OSError:  # the device refused the packet and closed mid-send: what is tested
                        pass

        threading.Thread(target=serve, daemon=True).start()
        return listener.getsockname()[1]

    def run(script, conn):
        try:
            script(conn)
        except OSError:
            pass

    yield start
    listener.close()
    for conn in held:
        try:
            conn.close()
        except OSError:
            pass


@pytest.fixture
def device(tmp_path, device_config, mpy_process):
    def start(port, **overrides):
        path = tmp_path / "mqtt.json"
        path.write_text(json.dumps(device_config(port, **dict(dict(timeout_ms=1000), **overrides))))
        # A board's heap, and what compiling link.py from source takes here (the board imports .mpy).
        process = mpy_process(LINK_DRIVER, str(path), heapsize="96K")
        process.expect("ready")
        process.expect("up 1", timeout_s=5)
        return process

    return start


def still_looping(link, timeout_s=3):
    link.send("modules")
    return link.expect("modules ", timeout_s=timeout_s)


@pytest.mark.parametrize("packet, error", [
    # 200 MB claimed: refused at once, not drained (the broker sends nothing more)
    (b"\x32" + remaining_length(200 * 1024 * 1024) + b"\x00\x01a\x00\x07",
     "mqtt: packet of 209715200 bytes, over 131072"),
    # a topic length past the packet: refused before the 64 KB it claims is allocated
    (b"\x32\x0a\xff\xff" + b"a" * 8, "mqtt: malformed PUBLISH"),
    # a SUBACK for 59998 topics (the device subscribed one): not read byte by byte
    (b"\x90" + remaining_length(60000) + b"\x00\x01\x01", "mqtt: unexpected packet 0x90 of 60000 bytes"),
])
def test_a_packet_larger_than_it_can_be_drops_the_session_at_once(packet, error, rogue, device):
    link = device(rogue(packet))
    assert link.expect("err ", timeout_s=3) == "err session: ValueError(%s)" % error
    link.expect("up 2", timeout_s=5)  # and it connects again


def test_a_broker_that_never_stops_sending_does_not_hold_the_loop(rogue, device):
    def flood(conn):
        while True:
            conn.sendall(b"\xd0\x00" * 4096)  # PINGRESP, PINGRESP, ...

    link = device(rogue(flood))
    time.sleep(0.5)
    for _ in range(3):
        still_looping(link)
    assert "down" not in link.seen  # well-formed packets: the session stays


def test_a_packet_sent_a_byte_at_a_time_drops_the_session_within_the_timeout(rogue, device):
    def trickle(conn):
        conn.sendall(b"\x32\x45\x00\x01a\x00\x07")  # a 64-byte body announced ...
        for _ in range(64):
            time.sleep(0.2)
            conn.sendall(b"x")  # ... each byte well within the socket's timeout

    link = device(rogue(trickle))
    start = time.monotonic()
    error = link.expect("err ", timeout_s=3)
    assert error == "err session: ValueError(mqtt: packet not whole within 1000 ms)"
    assert time.monotonic() - start < 2
    still_looping(link)


def test_while_a_broker_floods_the_feeders_own_button_still_feeds(rogue, tmp_path, pki):
    def flood(conn):
        while True:
            conn.sendall(b"\xd0\x00" * 4096)

    config = rig_config(rogue(flood), button={"pin": 5}, mqtt={"timeout_ms": 1000})
    feeder = Device(tmp_path / "flash", pki, config).start()
    try:
        feeder.wait_up()
        press_button(feeder.flash, "SINGLE")
        wait_for(lambda: dispense_starts(feeder.trace()), 5, "the press to feed (local-first)")
    finally:
        feeder.kill()
