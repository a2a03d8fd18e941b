"""The MQTT link: a mutual-TLS, persistent session over umqtt.simple that a dead network never hangs.

`Link(mqtt_config, thing, on_message, clock)`; the main loop calls `step(now_ms)` (connects when
due) and `poll(timeout_ms)` (waits for input, dispatches it, pings), and `publish(...)`.

TLS: umqtt.simple's `ssl=True, ssl_params` API (umqtt 1.3.4 and 1.8): client certificate and key
(DER, read once from flash at the paths in config), the server verified against the configured CA
(`cadata`) with `CERT_REQUIRED`, and `server_hostname=host` for SNI and the hostname check.

MicroPython 1.29 (unix port, mbedTLS 3), checked by experiment:
- `server_hostname` is checked against the certificate (CN/SAN); a mismatch, like a certificate
  from another CA, fails the handshake with ValueError (not OSError) from `ssl.wrap_socket`;
- the SSL socket has no `settimeout`, but honours the raw socket's timeout (read raises
  ETIMEDOUT), and `raw.settimeout()` still applies after wrapping;
- `select.poll` works on the SSL socket and reports data mbedTLS has already buffered;
- on the unix port `setblocking(True)` keeps the timeout, but on the ESP32 (lwIP) it means "no
  timeout". umqtt's wait_msg() calls it after every first byte, so the client's socket is
  replaced by `TimedSocket`, whose `setblocking(True)` re-applies the timeout.

umqtt.simple's gaps and how they are covered (without changing its code):
- timeouts: umqtt creates its socket inside connect(); while connecting, its module's `socket`
  name points at `_SocketMaker`, which keeps the raw socket and sets its timeout before the TCP
  connect (in getaddrinfo, which both releases call after creating the socket and any timeout
  of their own). So TCP connect, handshake, CONNACK, SUBACK, PUBACK and every later read and
  write are bounded by `timeout_ms`;
- pings: PINGREQ every keepalive/2; if no byte arrives within `timeout_ms` of a ping, the link is
  dead (umqtt swallows PINGRESP, so any received byte counts as the answer);
- packet ids: umqtt increments `pid` without bound; it is wrapped so ids stay within 1..65535;
- QoS 1 publish: umqtt waits for PUBACK in a loop; the timeout ends that wait with OSError;
- oversized messages: umqtt reads a whole message body into one buffer before its callback runs.
  A body larger than the free heap would raise MemoryError on every redelivery, forever. No
  MQTT field but a message body is ever read in one piece of more than MAX_BODY bytes, so such
  a read is drained in small chunks and answered with a placeholder over the protocol's size
  limit: the feeder rejects it ("payload: over 1024 bytes") and umqtt acknowledges it.
Any exception from the client (OSError, ValueError from TLS, MQTTException, umqtt's asserts,
IndexError on EOF) drops the connection: the socket is closed without DISCONNECT, so the broker
publishes the last will.

Session: clean session off, client id = thing name. When CONNACK says no session is present
(first connect, or the broker lost it) the action topic is subscribed again at QoS 1.
On connect: last will `offline` (QoS 1, retained) registered, `online` published (QoS 1, retained).

Reconnect: exponential backoff with full jitter, delay = random(0, min(cap, base * 2**failures)),
never two CONNECTs within 1 s; a session that lasted `STABLE_MS` resets `failures` when it drops.

on_message(topic, payload) runs inside umqtt, BEFORE the PUBACK of a QoS 1 message is sent: a
crash before the record is durable means redelivery, never loss. It can run from poll(), step()
(queued messages arrive right after CONNACK) and publish() (while waiting for PUBACK), and must
not call the link (umqtt is not re-entrant).

`mqtt_config` is the `mqtt` section as config.validate returns it, defaults filled in: `timeout_ms`
(10000), `backoff_base_ms` (500), `backoff_cap_ms` (60000), `keepalive_s` (60); tests use short values.
"""

import random
import select
import socket
import ssl

import umqtt.simple as umqtt_simple
from command import MAX_PAYLOAD
from messages import status_message
from umqtt.simple import MQTTClient

MIN_CONNECT_INTERVAL_MS = 1000
STABLE_MS = 30000
MAX_PID = 65535
# Larger than any command the feeder accepts plus its topic; see "oversized messages" above.
MAX_BODY = 2 * MAX_PAYLOAD
DRAIN_CHUNK = 256


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


class _SocketMaker:
    """Stands in for the `socket` module inside umqtt.simple while it connects (see above)."""

    def __init__(self, timeout_s):
        self.timeout_s = timeout_s
        self.raw = None

    def socket(self, *args):
        self.raw = socket.socket(*args)
        self.raw.settimeout(self.timeout_s)
        return self.raw

    def getaddrinfo(self, host, port, *args):
        if self.raw is not None:
            self.raw.settimeout(self.timeout_s)  # undo umqtt 1.8's settimeout(None)
        return socket.getaddrinfo(host, port, *args)


class TimedSocket:
    """The client's socket after connect: every blocking operation keeps the timeout."""

    def __init__(self, tls, raw, timeout_s, clock):
        self.tls = tls
        self.raw = raw
        self.timeout_s = timeout_s
        self.clock = clock
        self.last_rx_ms = clock.ticks_ms()

    def read(self, n):
        if n > MAX_BODY:
            return self._drain(n)
        data = self.tls.read(n)
        if data:
            self.last_rx_ms = self.clock.ticks_ms()
        return data

    def _drain(self, n):
        """Consume an n-byte message body without holding it; return a placeholder the feeder rejects."""
        chunk = bytearray(DRAIN_CHUNK)
        while n > 0:
            got = self.tls.readinto(chunk, min(n, DRAIN_CHUNK))
            if not got:
                raise OSError(-1)  # EOF mid-message: the link drops and the broker redelivers
            n -= got
            self.last_rx_ms = self.clock.ticks_ms()
        return bytes(MAX_PAYLOAD + 1)

    def write(self, buf, length=-1):
        if length < 0:
            return self.tls.write(buf)
        return self.tls.write(buf, length)

    def setblocking(self, flag):
        if flag:
            self.raw.settimeout(self.timeout_s)
        else:
            self.tls.setblocking(False)

    def close(self):
        for stream in (self.tls, self.raw):
            try:
                stream.close()
            except OSError:
                pass


class Link:
    def __init__(self, mqtt_config, thing, on_message, clock, client_factory=None):
        self.thing = thing
        self.on_message = on_message
        self.clock = clock
        self.host = mqtt_config["host"]
        # Every field is present: config.validate fills the defaults, so they live in one place.
        self.action_topic = mqtt_config["action_topic"]
        self.states_topic = mqtt_config["states_topic"]
        self.keepalive_s = mqtt_config["keepalive_s"]
        self.timeout_ms = mqtt_config["timeout_ms"]
        self.backoff_base_ms = mqtt_config["backoff_base_ms"]
        self.backoff_cap_ms = mqtt_config["backoff_cap_ms"]
        self.ping_interval_ms = self.keepalive_s * 500
        ssl_params = {
            "key": read_file(mqtt_config["key"]),
            "cert": read_file(mqtt_config["cert"]),
            "cadata": read_file(mqtt_config["ca"]),
            "cert_reqs": ssl.CERT_REQUIRED,
            "server_hostname": self.host,
        }
        factory = client_factory or MQTTClient
        self.client = factory(
            thing, self.host, port=mqtt_config["port"], keepalive=self.keepalive_s,
            ssl=True, ssl_params=ssl_params,
        )
        self.client.set_callback(self._dispatch)
        self.client.set_last_will(self.states_topic, status_message(thing, "offline"), retain=True, qos=1)
        self.sockets = _SocketMaker(self.timeout_ms / 1000)
        self.sock = None
        self.poller = select.poll()
        self.last_error = None  # the exception that ended the last session or attempt, for logs
        self.connected = False
        self.failures = 0
        self.connects = 0  # successful connects, for the main loop's telemetry and tests
        now = clock.ticks_ms()
        # Deadlines are kept as (start, duration) pairs: ticks wrap, so only ticks_diff is safe.
        self.dropped_at_ms = now
        self.retry_delay_ms = 0
        self.last_connect_ms = now - MIN_CONNECT_INTERVAL_MS
        self.connected_at_ms = now
        self.last_ping_ms = now
        self.ping_pending = False

    def _dispatch(self, topic, payload):
        self.on_message(topic, payload)

    def step(self, now_ms):
        """If disconnected and the backoff allows it, make one connect attempt."""
        if self.connected or self.until_attempt(now_ms) > 0:
            return
        self.last_connect_ms = now_ms
        try:
            self._connect(now_ms)
        except Exception as exc:
            self._drop(exc)

    def _connect(self, now_ms):
        umqtt_simple.socket = self.sockets  # type: ignore[attr-defined]
        self.sockets.raw = None
        try:
            session_present = self.client.connect(False)
        except Exception:
            self._close_raw()
            raise
        finally:
            umqtt_simple.socket = socket  # type: ignore[attr-defined]
        sock = TimedSocket(self.client.sock, self.sockets.raw, self.timeout_ms / 1000, self.clock)
        self.sockets.raw = None
        self.sock = self.client.sock = sock
        self.poller.register(sock.tls, select.POLLIN)
        self.connected = True
        self.connected_at_ms = now_ms
        self.last_ping_ms = now_ms
        self.ping_pending = False
        if not session_present:
            self._wrap_pid()
            self.client.subscribe(self.action_topic, 1)
        online = status_message(self.thing, "online", self.clock.unix_time())
        self._wrap_pid()
        self.client.publish(self.states_topic, online, True, 1)
        self.connects += 1

    def _close_raw(self):
        if self.sockets.raw is not None:
            try:
                self.sockets.raw.close()
            except OSError:
                pass
            self.sockets.raw = None

    def _drop(self, error=None):
        """Close without DISCONNECT (so the broker sends the will) and schedule the next attempt."""
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
        ceiling = min(self.backoff_cap_ms, self.backoff_base_ms << min(self.failures, 20))
        self.failures += 1
        self.retry_delay_ms = random.randint(0, ceiling)
        self.dropped_at_ms = now

    def until_attempt(self, now_ms):
        """Milliseconds until step() may try to connect (0: now)."""
        ticks_diff = self.clock.ticks_diff
        backoff = self.retry_delay_ms - ticks_diff(now_ms, self.dropped_at_ms)
        spacing = MIN_CONNECT_INTERVAL_MS - ticks_diff(now_ms, self.last_connect_ms)
        return max(0, backoff, spacing)

    def _wrap_pid(self):
        # umqtt increments pid before using it: reset to 0 so the next id is 1, never 65536.
        if self.client.pid >= MAX_PID:
            self.client.pid = 0

    def poll(self, timeout_ms):
        """Wait up to timeout_ms for input; dispatch what arrived; ping on time. Returns after input."""
        if not self.connected:
            self.clock.sleep_ms(min(timeout_ms, self.until_attempt(self.clock.ticks_ms())))
            return
        try:
            wait = self._keepalive(timeout_ms)
            if wait < 0 or not self.poller.poll(wait):
                return
            while True:
                self.client.check_msg()
                if not self.poller.poll(0):
                    return
        except Exception as exc:
            self._drop(exc)

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
                self._drop(OSError("no PINGRESP"))
                return -1
        if ticks_diff(now, self.last_ping_ms) >= self.ping_interval_ms:
            self.client.ping()
            self.last_ping_ms = now
            self.ping_pending = True
        until_ping = self.ping_interval_ms - ticks_diff(now, self.last_ping_ms)
        if self.ping_pending:
            until_ping = min(until_ping, self.timeout_ms - ticks_diff(now, self.last_ping_ms))
        return max(0, min(timeout_ms, until_ping))

    def publish(self, topic, payload, qos=0, retain=False):
        """QoS 1: True only once the PUBACK arrived within the timeout. Any failure drops the link."""
        if not self.connected:
            return False
        try:
            self._wrap_pid()
            self.client.publish(topic, payload, retain, qos)
            return True
        except Exception as exc:
            self._drop(exc)
            return False

    def close(self):
        """Orderly DISCONNECT (the broker then discards the will); for shutdown and tests."""
        if self.connected:
            try:
                self.client.disconnect()
            except Exception:
                pass
        self._drop()
