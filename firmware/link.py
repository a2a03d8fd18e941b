"""The MQTT link: a mutual-TLS, persistent session that a dead network never hangs, with flow control.

`Link(mqtt_config, thing, on_message, clock, will=..., on_connect=..., on_ack=..., max_body=...)`;
the main loop calls `step(now_ms)` (connects when due), `poll(timeout_ms)` (waits for input,
reads it, pings) and `send(topic, payload, qos)`. The link knows nothing of the application:
the caller gives the will, what to do once connected, what to do with a message and its size
limit.

umqtt.simple builds CONNECT, SUBSCRIBE and PINGREQ and reads CONNACK and SUBACK. Everything on
the hot path is this module's own, so that a result never waits for a PUBACK and a command can
be left to the broker:
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
  once) brings them back when it has room.

TLS (MicroPython's `ssl.SSLContext`, on the board and the unix port alike): client certificate
and key (DER, read once from flash at the paths in config), the server verified against the
configured CA with `CERT_REQUIRED`, and `server_hostname=host` for SNI and the hostname check.
umqtt gets `ssl=False` and a socket that does TCP and then TLS in its `connect(addr)`, so
neither umqtt release's TLS API is involved. On MicroPython 1.29 a certificate from another CA
or for another host name fails the handshake with ValueError and a readable text.
TCP_NODELAY is set: an MQTT packet is one write, and Nagle would hold it behind the previous
packet's unacknowledged segment (tens of ms on every exchange).

Never hangs: every socket operation (DNS aside, which the OS bounds), TCP connect, handshake,
reads and writes, is bounded by `timeout_ms`; `setblocking(True)`, which umqtt calls and which
on the ESP32 (lwIP) means "no timeout", re-applies the timeout instead. A PINGREQ goes out every
keepalive/2; if no byte arrives within `timeout_ms` of it, the link is dead. Packet ids wrap
within 1..65535. A message body over `max_body` bytes is drained in small chunks instead of
being held (a body larger than the free heap would otherwise fail on every redelivery,
forever), and handed on as `max_body + 1` zero bytes, which the caller can refuse by size.

Why it is offline: each failed connect sets `last_error` to "<phase>: <detail>", with phase
`dns`, `tcp`, `tls` (certificate or host name), `connack` (the broker's refusal code, or no
answer), `subscribe`; a session that breaks later, `session: <detail>`. `connect_failures`
counts failed attempts since boot.

Any failure closes the socket without DISCONNECT, so the broker publishes the will, and
schedules a reconnect: full-jitter exponential backoff, random(0, min(cap, base * 2**failures)),
never two CONNECTs within 1 s; a session that lasted `STABLE_MS` resets the failure count.

Session: clean session off, client id = thing name. When CONNACK says no session is present
(first connect, or the broker lost it) the action topic is subscribed again at QoS 1.

`mqtt_config` is the `mqtt` section as config.validate returns it, defaults filled in: `timeout_ms`
(10000), `backoff_base_ms` (500), `backoff_cap_ms` (60000), `keepalive_s` (60); tests use short values.
"""

import errno
import random
import select
import socket
import ssl
import struct

import umqtt.simple as umqtt_simple
from umqtt.simple import MQTTClient, MQTTException

MIN_CONNECT_INTERVAL_MS = 1000
STABLE_MS = 30000
MAX_PID = 65535
DRAIN_CHUNK = 256
# Option numbers of Linux and lwIP alike; the ports do not all export the names.
IPPROTO_TCP = 6
TCP_NODELAY = 1
# MQTT 3.1.1 control packet types (high nibble of the first byte).
PUBLISH = 0x30
PUBACK = 0x40
SUBACK = 0x90
PINGRESP = 0xD0
CONNACK_CODES = ("accepted", "unacceptable protocol version", "client id rejected", "server unavailable",
                 "bad user name or password", "not authorized")


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def describe(exc):
    """Short text of an exception for logs and telemetry (MicroPython's TLS texts have newlines)."""
    text = " ".join(str(arg).strip() for arg in exc.args) if exc.args else ""
    return "%s(%s)" % (type(exc).__name__, text)


class _Resolver:
    """Stands in for the `socket` module inside umqtt.simple while it connects: umqtt's
    socket.socket() gets a TlsSocket and its getaddrinfo is the DNS phase."""

    def __init__(self, link):
        self.link = link

    def socket(self, *args):
        return TlsSocket(self.link)

    def getaddrinfo(self, host, port, *args):
        self.link.phase = "dns"
        found = socket.getaddrinfo(host, port, *args)
        self.link.phase = "tcp"
        return found


class TlsSocket:
    """The client's socket: TCP, then the TLS handshake, in connect(); reads and writes keep the timeout."""

    def __init__(self, link):
        self.link = link
        self.timeout_s = link.timeout_ms / 1000
        self.raw = socket.socket()
        self.raw.settimeout(self.timeout_s)
        self.tls = self.raw  # the TLS stream once connect() has done the handshake
        self.last_rx_ms = link.clock.ticks_ms()

    def connect(self, addr):
        link = self.link
        self.raw.connect(addr)
        try:
            self.raw.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass  # a port without the option only loses latency
        link.phase = "tls"
        self.tls = link.tls_context.wrap_socket(self.raw, server_hostname=link.host)
        link.phase = "connack"

    def read(self, n):
        data = self.tls.read(n)
        if data:
            self.last_rx_ms = self.link.clock.ticks_ms()
        return data

    def readinto(self, buf, n):
        got = self.tls.readinto(buf, n)
        if got:
            self.last_rx_ms = self.link.clock.ticks_ms()
        return got

    def write(self, buf, length=-1):
        if length < 0:
            return self.tls.write(buf)
        return self.tls.write(memoryview(buf)[:length])

    def setblocking(self, flag):
        if flag:
            self.raw.settimeout(self.timeout_s)
        else:
            self.tls.setblocking(False)

    def settimeout(self, timeout_s):
        pass  # umqtt 1.8 may clear it; this socket keeps its own

    def close(self):
        for stream in (self.tls, self.raw):
            try:
                stream.close()
            except OSError:
                pass


class Link:
    def __init__(self, mqtt_config, thing, on_message, clock, will=None, on_connect=None, on_ack=None,
                 max_body=4096, client_factory=None, subscribe=True):
        """will: (topic, payload), published retained at QoS 1 by the broker when the link dies.
        subscribe: False for a device that only publishes (a button board: its IoT policy allows no
        subscription, and IoT Core closes a connection that tries one).
        on_connect(): called once connected and subscribed. on_ack(pid): a QoS 1 send was acknowledged.
        on_message(topic, payload) -> bool: see the module docstring."""
        self.on_message = on_message
        self.on_connect = on_connect
        self.on_ack = on_ack
        self.max_body = max_body
        self.clock = clock
        self.host = mqtt_config["host"]
        # Every field is present: config.validate fills the defaults, so they live in one place.
        self.action_topic = mqtt_config["action_topic"] if subscribe else None
        self.keepalive_s = mqtt_config["keepalive_s"]
        self.timeout_ms = mqtt_config["timeout_ms"]
        self.backoff_base_ms = mqtt_config["backoff_base_ms"]
        self.backoff_cap_ms = mqtt_config["backoff_cap_ms"]
        self.ping_interval_ms = self.keepalive_s * 500
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # MicroPython's has it; the stubs omit it
        context.load_verify_locations(cadata=read_file(mqtt_config["ca"]))
        context.load_cert_chain(read_file(mqtt_config["cert"]), read_file(mqtt_config["key"]))
        self.tls_context = context
        factory = client_factory or MQTTClient
        self.client = factory(thing, self.host, port=mqtt_config["port"], keepalive=self.keepalive_s,
                              ssl=False)
        self.client.set_callback(self._subscribe_time_message)
        if will is not None:
            self.client.set_last_will(will[0], will[1], retain=True, qos=1)
        self.resolver = _Resolver(self)
        self.sock = self.client.sock  # None until connected
        self.poller = select.poll()
        self.phase = "dns"
        self.last_error = None  # "<phase>: <detail>" of the last failed attempt or broken session
        self.connect_failures = 0  # failed connect attempts since boot
        self.deferred = 0  # messages left unacknowledged this session (see resync)
        self.connected = False
        self.failures = 0  # consecutive, for the backoff
        self.connects = 0  # successful connects, for the main loop's log and tests
        self._puback = bytearray(b"\x40\x02\0\0")
        self._two = bytearray(2)
        now = clock.ticks_ms()
        # Deadlines are kept as (start, duration) pairs: ticks wrap, so only ticks_diff is safe.
        self.dropped_at_ms = now
        self.retry_delay_ms = 0
        self.last_connect_ms = now - MIN_CONNECT_INTERVAL_MS
        self.connected_at_ms = now
        self.last_ping_ms = now
        self.ping_pending = False

    # -- connecting ------------------------------------------------------------------------------

    def step(self, now_ms):
        """If disconnected and the backoff allows it, make one connect attempt."""
        if self.connected or self.until_attempt(now_ms) > 0:
            return
        self.last_connect_ms = now_ms
        try:
            self._connect(now_ms)
        except Exception as exc:
            self.connect_failures += 1
            self._drop(self._connect_error(exc))

    def _connect_error(self, exc):
        if isinstance(exc, MQTTException) and self.phase == "connack":
            code = exc.args[0] if exc.args else -1
            meaning = CONNACK_CODES[code] if 0 <= code < len(CONNACK_CODES) else "unknown"
            return "connack: refused, code %d (%s)" % (code, meaning)
        if isinstance(exc, OSError) and exc.args and exc.args[0] == errno.ETIMEDOUT:
            return "%s: no answer within %d ms" % (self.phase, self.timeout_ms)
        return "%s: %s" % (self.phase, describe(exc))

    def _connect(self, now_ms):
        umqtt_simple.socket = self.resolver  # type: ignore[attr-defined]
        self.phase = "dns"
        try:
            session_present = self.client.connect(False)
        except Exception:
            self._close_socket(self.client.sock)
            raise
        finally:
            umqtt_simple.socket = socket  # type: ignore[attr-defined]
        sock = self.sock = self.client.sock
        self.poller.register(sock.tls, select.POLLIN)
        self.connected = True
        self.deferred = 0
        self.connected_at_ms = now_ms
        self.last_ping_ms = now_ms
        self.ping_pending = False
        if not session_present and self.action_topic is not None:
            self.phase = "subscribe"
            self._wrap_pid()
            self.client.subscribe(self.action_topic, 1)
        self.connects += 1
        if self.on_connect is not None:
            self.on_connect()

    def _subscribe_time_message(self, topic, payload):
        # Only while subscribing (no session yet, so nothing can be queued for us): umqtt acks it.
        self.on_message(topic, payload)

    @staticmethod
    def _close_socket(sock):
        if isinstance(sock, TlsSocket):
            sock.close()

    def _drop(self, error=None, planned=False):
        """Close without DISCONNECT (so the broker sends the will) and schedule the next attempt."""
        if error is not None:
            self.last_error = error
        now = self.clock.ticks_ms()
        if self.connected:
            self.connected = False
            if self.clock.ticks_diff(now, self.connected_at_ms) >= STABLE_MS:
                self.failures = 0
        sock = self.sock
        if sock is not None:
            self.sock = None
            try:
                self.poller.unregister(sock.tls)
            except (OSError, KeyError, ValueError):
                pass
            sock.close()
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
        spacing = MIN_CONNECT_INTERVAL_MS - ticks_diff(now_ms, self.last_connect_ms)
        return max(0, backoff, spacing)

    def _wrap_pid(self):
        # The pid is incremented before use: reset to 0 so the next id is 1, never 65536.
        if self.client.pid >= MAX_PID:
            self.client.pid = 0

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
            while not self._read_packet():
                if not self.connected or not self.poller.poll(0):
                    return
        except Exception as exc:
            self._drop("session: " + describe(exc))

    def _read_exact(self, buf, n):
        got = self.sock.readinto(buf, n)
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
        self._read_exact(self._two, 1)
        first = self._two[0]
        size = self._remaining_length()
        kind = first & 0xF0
        if kind == PUBLISH:
            self._publish(first, size)
            return True
        if kind == PUBACK and size == 2:
            self._read_exact(self._two, 2)
            if self.on_ack is not None:
                self.on_ack(self._two[0] << 8 | self._two[1])
        elif (kind == PINGRESP or kind == SUBACK) and size <= 3:
            if size:
                self.sock.read(size)  # a late SUBACK carries nothing we need
        else:
            raise ValueError("mqtt: unexpected packet 0x%02x of %d bytes" % (first, size))
        return False

    def _publish(self, first, size):
        qos = (first >> 1) & 3
        self._read_exact(self._two, 2)
        topic_len = self._two[0] << 8 | self._two[1]
        topic = self.sock.read(topic_len)
        size -= 2 + topic_len
        pid = 0
        if qos:
            self._read_exact(self._two, 2)
            pid = self._two[0] << 8 | self._two[1]
            size -= 2
        if qos > 1 or size < 0 or len(topic) != topic_len:
            raise ValueError("mqtt: malformed PUBLISH")
        payload = self._drain(size) if size > self.max_body else self.sock.read(size)
        taken = self.on_message(topic, payload)
        if qos == 0:
            return
        if taken:
            struct.pack_into("!H", self._puback, 2, pid)
            self.sock.write(self._puback)
        else:
            self.deferred += 1

    def _drain(self, n):
        """Consume an n-byte message body without holding it; return a placeholder over max_body."""
        chunk = bytearray(DRAIN_CHUNK)
        while n > 0:
            got = self.sock.readinto(chunk, min(n, DRAIN_CHUNK))
            if not got:
                raise OSError(-1)
            n -= got
        return bytes(self.max_body + 1)

    def _keepalive(self, timeout_ms):
        """Send a ping when due; -1 when the link is found dead, else how long poll may wait."""
        now = self.clock.ticks_ms()
        ticks_diff = self.clock.ticks_diff
        sock = self.sock
        if sock is None:
            return -1
        if self.ping_pending:
            if ticks_diff(sock.last_rx_ms, self.last_ping_ms) >= 0:
                self.ping_pending = False
            elif ticks_diff(now, self.last_ping_ms) >= self.timeout_ms:
                self._drop("session: no PINGRESP within %d ms" % self.timeout_ms)
                return -1
        if ticks_diff(now, self.last_ping_ms) >= self.ping_interval_ms:
            self.client.ping()
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
            self._wrap_pid()
            self.client.pid += 1
            pid = self.client.pid
        if isinstance(topic, str):
            topic = topic.encode()
        size = 2 + len(topic) + (2 if qos else 0) + len(payload)
        header = bytearray(5)
        header[0] = PUBLISH | qos << 1 | (1 if retain else 0)
        i = 1
        while size > 0x7F:
            header[i] = (size & 0x7F) | 0x80
            size >>= 7
            i += 1
        header[i] = size
        packet = bytearray(header[: i + 1])
        packet.extend(struct.pack("!H", len(topic)))
        packet.extend(topic)
        if qos:
            packet.extend(struct.pack("!H", pid))
        packet.extend(payload)
        try:
            self.sock.write(packet)
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
                self.client.disconnect()
            except Exception:
                pass
        self._drop(planned=planned)
