"""The MQTT link: a mutual-TLS, persistent session that a dead network never hangs, with flow control.

`Link(mqtt_config, thing, on_message, clock, will=..., on_connect=..., on_ack=..., max_body=...)`;
the main loop calls `step(now_ms)` (connects when due), `poll(timeout_ms)` (waits for input,
reads it, pings) and `send(topic, payload, qos)`. The link knows nothing of the application:
the caller gives the will, what to do once connected, what to do with a message and its size
limit.

Connecting is connect.py's: DNS, TCP, the TLS handshake (CERT_REQUIRED, server_hostname,
TCP_NODELAY), CONNECT with the will and clean session off, CONNACK, SUBSCRIBE at every connect,
and the texts that say why an attempt failed. `step` loads it for each attempt with
bootonly.call and it leaves the heap afterwards, so that only the hot path stays resident. No MQTT
library is used (connect.py says why); everything on the hot path is this module's own, so that a
result never waits for a PUBACK and a command can be left to the broker:
- `send` writes a whole PUBLISH in one write and returns its packet id at once; the PUBACK comes
  back later through `poll`, which calls `on_ack(pid)`. Results are pipelined, so a backlog of
  commands never makes the device wait for its own results' acknowledgements;
- `poll` reads PUBLISH, PUBACK and PINGRESP itself and hands at most one PUBLISH to the caller
  per call, so the caller can send that command's result before it reads the next command;
- `on_message(topic, payload)` returns True when the message was taken (the PUBACK is sent
  after it returns, so whatever it recorded is durable before the broker forgets the message),
  or False to leave it unacknowledged: the broker keeps an unacknowledged QoS 1 message and
  delivers it again when the session resumes. That is the flow control: when the caller has no
  room for another result it refuses commands, and `resync()` (DISCONNECT and connect again at
  once) brings them back when it has room;
- PINGREQ and DISCONNECT are two bytes each, written here; packet ids are counted here; SUBACK
  is read here: a refused subscription drops the link with `subscribe: refused ...` and counts as
  a failed connect.

Never hangs: every socket operation (DNS aside, which the OS bounds), TCP connect, handshake,
reads and writes, is bounded by `timeout_ms`: connect.py sets it on the socket before it connects.
A PINGREQ goes out every keepalive/2; if no byte arrives within `timeout_ms` of it, the link is
dead. Packet ids wrap within 1..65535. A message body over `max_body` bytes is drained in small
chunks instead of being held (a body larger than the free heap would otherwise fail on every
redelivery, forever), and handed on as `max_body + 1` zero bytes, which the caller can refuse by
size.

A broken or rogue broker (a valid certificate, lying packets) drops the session with one
`session: ValueError(mqtt: ...)` and a reconnect with backoff, before anything it claims is
allocated or read: a remaining length over 4 bytes or over 128 KB (docs/protocol.md, "Bounds"), a
PUBLISH of QoS 2 or 3, whose topic runs past the packet or over 256 bytes, a PUBACK, SUBACK or
PINGRESP of the wrong size, any other packet type. A packet must arrive whole within `timeout_ms`
of its first byte (one read of the packet may wait one more `timeout_ms`), however slowly its bytes
come, and a poll reads at most 16 packets, so no stream of well-formed packets keeps the main
loop from its button, schedule and watchdog. A PUBLISH on a topic the device did not subscribe
is handed over like any other (the caller acknowledges and ignores it).

Why it is offline: each failed connect sets `last_error` to "<phase>: <detail>" (the phases are
connect.py's; `connect: <detail>` when an attempt could not start: connect.py not loaded, no
socket); a session that breaks later, `session: <detail>`. `connect_failures` counts failed
attempts since boot.

Any failure closes the socket without DISCONNECT, so the broker publishes the will, and
schedules a reconnect: full-jitter exponential backoff, random(0, min(cap, base * 2**failures)),
never two CONNECTs within 1 s; a session that lasted `STABLE_MS` resets the failure count.

`mqtt_config` is the `mqtt` section as config.validate returns it, defaults filled in: `timeout_ms`
(6000, the most), `backoff_base_ms` (500), `backoff_cap_ms` (60000), `keepalive_s` (60); tests use short
values.
"""

import random
import select
import struct

import bootonly
from micropython import const

TYPE_CHECKING = const(False)  # mypy reads the block below; MicroPython compiles it away
if TYPE_CHECKING:
    from typing import Any  # noqa: F401  (in a type comment)

_MIN_CONNECT_INTERVAL_MS = const(1000)
_STABLE_MS = const(30000)
_MAX_PID = const(65535)
_DRAIN_CHUNK = const(256)
# docs/protocol.md, "Bounds": no MQTT packet of this system is larger; a longer one is a broken or
# rogue broker's, and draining it (up to 256 MB) would hold the loop for minutes.
MAX_PACKET = const(131072)
_MAX_TOPIC = const(256)  # AWS IoT's longest topic, in bytes; the device's are shorter
# Packets read in one poll at most: a broker that never stops sending (PUBACKs, PINGRESPs) must not
# keep the main loop from its button, schedule and watchdog.
_PACKETS_PER_POLL = const(16)
# MQTT 3.1.1 control packet types (high nibble of the first byte).
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBACK = const(0x90)
_PINGRESP = const(0xD0)


def describe(exc):
    """Short text of an exception for logs and telemetry (MicroPython's TLS texts have newlines)."""
    text = " ".join(str(arg).strip() for arg in exc.args) if exc.args else ""
    return "%s(%s)" % (type(exc).__name__, text)


def fixed_header(first, size):
    """An MQTT fixed header: packet type and flags, then the remaining length (1 to 4 bytes)."""
    header = bytearray((first,))
    while size > 0x7F:
        header.append(size & 0x7F | 0x80)
        size >>= 7
    header.append(size)
    return header


def connect_once(link, now_ms):
    """One connect attempt by connect.py, which leaves the heap afterwards: None or the error text."""
    return bootonly.call("connect", "attempt", link, now_ms)


class Link:
    def __init__(self, mqtt_config, thing, on_message, clock, will=None, on_connect=None, on_ack=None,
                 max_body=4096, subscriptions=(), connector=connect_once):
        """will: (topic, payload), published retained at QoS 1 by the broker when the link dies.
        subscriptions: the topics subscribed at QoS 1 at every connect, in one SUBSCRIBE (connect.py);
        none for a device that only publishes (a button board: its IoT policy allows no
        subscription, and IoT Core closes a connection that tries one).
        on_connect(): called once connected and subscribed. on_ack(pid): a QoS 1 send was acknowledged.
        on_message(topic, payload) -> bool: see the module docstring.
        connector(link, now_ms) -> None or the error text: one connect attempt (tests script it)."""
        self.mqtt_config = mqtt_config
        self.thing = thing
        self.will = will
        self.on_message = on_message
        self.on_connect = on_connect
        self.on_ack = on_ack
        self.max_body = max_body
        self.clock = clock
        self.connector = connector
        self.host = mqtt_config["host"]
        # Every field is present: config.validate fills the defaults, so they live in one place.
        self.subscriptions = subscriptions
        self.keepalive_s = mqtt_config["keepalive_s"]
        self.timeout_ms = mqtt_config["timeout_ms"]
        self.backoff_base_ms = mqtt_config["backoff_base_ms"]
        self.backoff_cap_ms = mqtt_config["backoff_cap_ms"]
        self.ping_interval_ms = self.keepalive_s * 500
        self.stream = None  # type: Any  # the TLS stream while connected (closing it closes the TCP socket too)
        self.poller = select.poll()
        self.last_error = None  # "<phase>: <detail>" of the last failed attempt or broken session
        self.connect_failures = 0  # failed connect attempts since boot
        self.deferred = 0  # messages left unacknowledged this session (see resync)
        self.connected = False
        self.failures = 0  # consecutive, for the backoff
        self.connects = 0  # successful connects, for the main loop's log and tests
        self.pid = 0  # the last packet id used
        self._puback = bytearray(b"\x40\x02\0\0")
        self._two = bytearray(2)
        now = clock.ticks_ms()
        # Deadlines are kept as (start, duration) pairs: ticks wrap, so only ticks_diff is safe.
        self.dropped_at_ms = now
        self.retry_delay_ms = 0
        self.last_connect_ms = now - _MIN_CONNECT_INTERVAL_MS
        self.connected_at_ms = now
        self.last_ping_ms = now
        self.last_rx_ms = now
        self.ping_pending = False

    # -- connecting ------------------------------------------------------------------------------

    def step(self, now_ms):
        """If disconnected and the backoff allows it, make one connect attempt."""
        if self.connected or self.until_attempt(now_ms) > 0:
            return
        self.last_connect_ms = now_ms
        try:
            error = self.connector(self, now_ms)
        except Exception as exc:  # the attempt could not start (no heap for connect.py, no socket)
            error = "connect: " + describe(exc)
        if error is not None:
            self.connect_failures += 1
            self._drop(error)
            return
        self.connects += 1
        if self.on_connect is not None:
            self.on_connect()

    def attach(self, stream, now_ms):
        """connect.py: CONNACK accepted the session on this TLS stream (SUBSCRIBE may follow)."""
        self.stream = stream
        self.poller.register(stream, select.POLLIN)
        self.connected = True
        self.deferred = 0
        self.connected_at_ms = now_ms
        self.last_ping_ms = now_ms
        self.last_rx_ms = now_ms
        self.ping_pending = False

    def next_pid(self):
        self.pid = self.pid % _MAX_PID + 1  # 1..65535, never 0
        return self.pid

    def _drop(self, error=None, planned=False):
        """Close without DISCONNECT (so the broker sends the will) and schedule the next attempt."""
        if error is not None:
            self.last_error = error
        now = self.clock.ticks_ms()
        if self.connected:
            self.connected = False
            if self.clock.ticks_diff(now, self.connected_at_ms) >= _STABLE_MS:
                self.failures = 0
        stream = self.stream
        if stream is not None:
            self.stream = None
            try:
                self.poller.unregister(stream)
            except (OSError, KeyError, ValueError):
                pass
            try:
                stream.close()
            except OSError:
                pass
        self.dropped_at_ms = now
        if planned:
            self.retry_delay_ms = 0
            return
        ceiling = min(self.backoff_cap_ms, self.backoff_base_ms << min(self.failures, 20))
        self.failures += 1
        self.retry_delay_ms = random.randint(0, ceiling)

    def until_attempt(self, now_ms):
        """Milliseconds until step() may try to connect (0: now)."""
        ticks_diff = self.clock.ticks_diff
        backoff = self.retry_delay_ms - ticks_diff(now_ms, self.dropped_at_ms)
        spacing = _MIN_CONNECT_INTERVAL_MS - ticks_diff(now_ms, self.last_connect_ms)
        return max(0, backoff, spacing)

    # -- reading ---------------------------------------------------------------------------------

    def poll(self, timeout_ms):
        """Wait up to timeout_ms for input and read it, at most one PUBLISH; ping on time."""
        if not self.connected:
            self.clock.sleep_ms(min(timeout_ms, self.until_attempt(self.clock.ticks_ms())))
            return
        try:
            wait = self._keepalive(timeout_ms)
            if wait < 0 or not self.poller.poll(wait):
                return
            packets = _PACKETS_PER_POLL
            while not self._read_packet():
                packets -= 1
                if not packets or not self.connected or not self.poller.poll(0):
                    return
        except Exception as exc:
            self._drop("session: " + describe(exc))

    def _in_time(self):
        """A packet must arrive whole within timeout_ms of its first byte: each read is bounded by the
        socket's timeout, but a broker sending a byte now and then would hold the loop for hours."""
        if self.clock.ticks_diff(self.clock.ticks_ms(), self.last_rx_ms) >= self.timeout_ms:
            raise ValueError("mqtt: packet not whole within %d ms" % self.timeout_ms)

    def _read_exact(self, buf, n):
        self._in_time()
        got = self.stream.readinto(buf, n)
        if got != n:
            raise OSError(-1)  # EOF mid-packet: the link drops and the broker redelivers

    def _remaining_length(self):
        size = shift = 0
        while True:
            self._read_exact(self._two, 1)
            byte = self._two[0]
            size |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return size
            shift += 7
            if shift > 21:
                raise ValueError("mqtt: remaining length over 4 bytes")

    def _read_packet(self):
        """Read one packet. True when it was a PUBLISH handed to on_message."""
        self.last_rx_ms = self.clock.ticks_ms()  # any packet answers a ping; its deadline starts
        self._read_exact(self._two, 1)
        first = self._two[0]
        size = self._remaining_length()
        if size > MAX_PACKET:
            raise ValueError("mqtt: packet of %d bytes, over %d" % (size, MAX_PACKET))
        kind = first & 0xF0
        if kind == _PUBLISH:
            self._publish(first, size)
            return True
        if kind == _PUBACK and size == 2:
            self._read_exact(self._two, 2)
            if self.on_ack is not None:
                self.on_ack(self._two[0] << 8 | self._two[1])
        elif kind == _SUBACK and 3 <= size <= 2 + len(self.subscriptions):
            self._read_exact(self._two, 2)  # the packet id: there is one SUBSCRIBE per session
            refused = False
            for _ in range(size - 2):
                self._read_exact(self._two, 1)
                refused = refused or self._two[0] & 0x80 != 0  # each topic's granted QoS, or 0x80: refused
            if refused:
                self.connect_failures += 1
                self._drop("subscribe: refused by the broker (SUBACK 0x80)")
        elif kind == _PINGRESP and size == 0:
            pass
        else:
            raise ValueError("mqtt: unexpected packet 0x%02x of %d bytes" % (first, size))
        return False

    def _publish(self, first, size):
        qos = (first >> 1) & 3
        self._read_exact(self._two, 2)
        topic_len = self._two[0] << 8 | self._two[1]
        size -= 2 + topic_len + (2 if qos else 0)
        # Checked before anything is read: a topic length past the packet would be allocated.
        if qos > 1 or size < 0 or topic_len > _MAX_TOPIC:
            raise ValueError("mqtt: malformed PUBLISH")
        topic = self._receive(topic_len)
        pid = 0
        if qos:
            self._read_exact(self._two, 2)
            pid = self._two[0] << 8 | self._two[1]
        payload = self._drain(size) if size > self.max_body else self._receive(size)
        taken = self.on_message(topic, payload)
        if qos == 0:
            return
        if taken:
            struct.pack_into("!H", self._puback, 2, pid)
            self.stream.write(self._puback)
        else:
            self.deferred += 1

    def _receive(self, n):
        """n bytes of the packet. `recv` returns what one TLS record holds (usually all of it: a
        broker writes a packet at once), so the packet's deadline is checked between pieces;
        `read(n)` would wait for all n however slowly they came."""
        data = self._piece(n)
        if len(data) == n:
            return data
        buf = bytearray(n)
        got = len(data)
        buf[:got] = data
        while got < n:
            data = self._piece(n - got)
            buf[got:got + len(data)] = data
            got += len(data)
        return bytes(buf)

    def _piece(self, n):
        if not n:
            return b""
        self._in_time()
        data = self.stream.recv(n)
        if not data:
            raise OSError(-1)  # EOF mid-packet
        return data

    def _drain(self, n):
        """Consume an n-byte message body without holding it; return a placeholder over max_body."""
        while n > 0:
            n -= len(self._piece(min(n, _DRAIN_CHUNK)))
        return bytes(self.max_body + 1)

    def _keepalive(self, timeout_ms):
        """Send a ping when due; -1 when the link is found dead, else how long poll may wait."""
        now = self.clock.ticks_ms()
        ticks_diff = self.clock.ticks_diff
        stream = self.stream
        if stream is None:
            return -1
        if self.ping_pending:
            if ticks_diff(self.last_rx_ms, self.last_ping_ms) >= 0:
                self.ping_pending = False
            elif ticks_diff(now, self.last_ping_ms) >= self.timeout_ms:
                self._drop("session: no PINGRESP within %d ms" % self.timeout_ms)
                return -1
        if ticks_diff(now, self.last_ping_ms) >= self.ping_interval_ms:
            stream.write(b"\xc0\0")  # PINGREQ
            self.last_ping_ms = now
            self.ping_pending = True
        until_ping = self.ping_interval_ms - ticks_diff(now, self.last_ping_ms)
        if self.ping_pending:
            until_ping = min(until_ping, self.timeout_ms - ticks_diff(now, self.last_ping_ms))
        return max(0, min(timeout_ms, until_ping))

    # -- writing ---------------------------------------------------------------------------------

    def send(self, topic, payload, qos=1, retain=False):
        """Write one PUBLISH; returns its packet id (QoS 1; on_ack(pid) follows), 0 (QoS 0), or -1
        when not connected or the write failed (the link is then dropped)."""
        if not self.connected:
            return -1
        pid = 0
        if qos:
            pid = self.next_pid()
        if isinstance(topic, str):
            topic = topic.encode()
        size = 2 + len(topic) + (2 if qos else 0) + len(payload)
        packet = fixed_header(_PUBLISH | qos << 1 | (1 if retain else 0), size)
        packet.extend(struct.pack("!H", len(topic)))
        packet.extend(topic)
        if qos:
            packet.extend(struct.pack("!H", pid))
        packet.extend(payload)
        try:
            self.stream.write(packet)
        except Exception as exc:
            self._drop("session: " + describe(exc))
            return -1
        return pid

    def resync(self):
        """DISCONNECT and connect again at once: the broker then delivers again what this session
        left unacknowledged (on_message returned False). No will is published for it."""
        self.close(planned=True)

    def close(self, planned=False):
        """Orderly DISCONNECT (the broker then discards the will); for shutdown, tests and resync."""
        if self.connected:
            try:
                self.stream.write(b"\xe0\0")  # DISCONNECT
            except Exception:
                pass
        self._drop(planned=planned)
