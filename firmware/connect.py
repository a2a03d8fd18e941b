"""One connect attempt of the link (link.py), from DNS to a subscribed session.

`attempt(link, now_ms)` -> None once the session is up, else "<phase>: <detail>" for
`link.last_error`, with phase `dns`, `tcp`, `tls` (certificate, host name, or the certificate
files), `connack` (the broker's refusal code, or no answer), `subscribe`. The link loads this
module for each attempt with bootonly.call, which releases it afterwards together with what it
imported (umqtt.simple, ssl): none of it is needed between connects (bench/module_heap.py).

DNS, TCP and the TLS handshake come first; only then is umqtt.simple (1.3.4, pinned by
tools/setup/fetch_umqtt.py) imported, into the memory the handshake used: the two never share the
heap (bench/device.py's full session, tried in 1K steps: 82K was the smallest before, 79K after;
once the resident modules shrank, 76K in every run, and 72K in 7 of 13 runs with a collection
before the import, 0 of 3 without: `bench/device.py --repeat-session 72`).
umqtt builds CONNECT and SUBSCRIBE and reads CONNACK and SUBACK. It gets `ssl=False` and, as its
`socket` module, the `_Attempt`, whose connection is already open, so umqtt's TLS API is not
involved.

TLS (MicroPython's `ssl.SSLContext`, on the board and the unix port alike): client certificate
and key, and the CA that verifies the server with `CERT_REQUIRED`, read from flash (DER, at the
paths in config) for each attempt; `server_hostname=host` for SNI and the hostname check. Only
the wrapped socket is kept: on MicroPython 1.29 it holds the context it was made from
(extmod/modtls_mbedtls.c), so the parsed certificates live as long as the connection and no
longer. A certificate from another CA or for another host name fails the handshake with
ValueError and a readable text; a missing certificate file fails the attempt the same way, in the
`tls` phase, rather than the boot.
TCP_NODELAY is set: an MQTT packet is one write, and Nagle would hold it behind the previous
packet's unacknowledged segment (tens of ms on every exchange). umqtt writes CONNECT and SUBSCRIBE
in pieces (up to eight writes, each a TLS record and, without Nagle, a TCP segment); they are
gathered and each packet goes out in one write when umqtt reads the answer.

Never hangs: the TCP socket gets the link's `timeout_ms` before it connects, so the TCP connect,
the handshake and every read and write on the connection (the link's too) are bounded by it
(DNS aside, which the OS bounds). `setblocking(True)`, which umqtt calls and which on the ESP32
(lwIP) means "no timeout", re-applies the timeout instead.

Session: clean session off, client id = thing name, the link's will (topic, payload) retained at
QoS 1. When CONNACK says no session is present (first connect, or the broker lost it) the action
topic is subscribed again at QoS 1; a message that arrives while subscribing goes to the link's
on_message and umqtt acknowledges it.
"""

import errno
import gc
import socket
import ssl

from link import describe
from micropython import const

# Option numbers of Linux and lwIP alike; the ports do not all export the names.
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)
CONNACK_CODES = ("accepted", "unacceptable protocol version", "client id rejected", "server unavailable",
                 "bad user name or password", "not authorized")


def attempt(link, now_ms):
    """Connect `link`; on success it holds the TLS stream (link.attach), on failure nothing is left open."""
    sockets = _Attempt(link)
    try:
        sockets.open()
        error = _open_session(link, sockets, now_ms)
    except Exception as exc:
        error = _error_text(sockets.phase, exc, link.timeout_ms)
    if error is not None and not link.connected:
        sockets.close()  # once attached, the link closes the stream when it drops
    return error


def _open_session(link, sockets, now_ms):
    """CONNECT, CONNACK and, when needed, SUBSCRIBE over the open TLS stream: None, or the refusal."""
    # Imported only now: the handshake's memory is free again, so the two never share the heap.
    # The collection first makes the import fill the handshake's holes from the bottom of the heap
    # (a collection restarts the allocator's search there): a full session then runs in 72K in
    # 7 of 13 runs, and in none of 3 without it.
    gc.collect()
    import umqtt.simple as umqtt_simple

    umqtt_simple.socket = sockets  # type: ignore[attr-defined]
    try:
        client = umqtt_simple.MQTTClient(link.thing, link.host, port=link.mqtt_config["port"],
                                         keepalive=link.keepalive_s, ssl=False)
        if link.will is not None:
            client.set_last_will(link.will[0], link.will[1], retain=True, qos=1)
        try:
            session_present = client.connect(False)
        except umqtt_simple.MQTTException as exc:
            code = exc.args[0] if exc.args else -1
            meaning = CONNACK_CODES[code] if 0 <= code < len(CONNACK_CODES) else "unknown"
            return "connack: refused, code %d (%s)" % (code, meaning)
        link.attach(sockets.tls, now_ms)
        if not session_present and link.action_topic is not None:
            sockets.phase = "subscribe"
            client.set_callback(link.on_message)
            client.pid = link.next_pid() - 1  # umqtt counts up before use: SUBSCRIBE takes the link's next id
            client.subscribe(link.action_topic, 1)
        sockets.send_gathered()  # from here on the link writes whole packets itself
        return None
    finally:
        umqtt_simple.socket = socket  # type: ignore[attr-defined]


def _error_text(phase, exc, timeout_ms):
    if isinstance(exc, OSError) and exc.args and exc.args[0] == errno.ETIMEDOUT:
        return "%s: no answer within %d ms" % (phase, timeout_ms)
    return "%s: %s" % (phase, describe(exc))


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


class _Attempt:
    """The connection of one attempt, and umqtt's `socket` module while it connects: open() resolves,
    connects TCP and does the TLS handshake before umqtt is loaded; umqtt's connect() then gets this
    object as its socket, and its getaddrinfo and connect find the work done."""

    def __init__(self, link):
        self.link = link
        self.phase = "dns"
        self.timeout_s = link.timeout_ms / 1000
        self.raw = socket.socket()
        self.raw.settimeout(self.timeout_s)
        self.tls = self.raw  # the TLS stream once open() has done the handshake
        self.address = None  # what getaddrinfo found
        # umqtt's pieces of each packet, sent as one write when it next reads.
        self.gathered = bytearray()

    def open(self):
        link = self.link
        self.address = socket.getaddrinfo(link.host, link.mqtt_config["port"])
        self.phase = "tcp"
        raw = self.raw
        raw.connect(self.address[0][-1])
        try:
            raw.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass  # a port without the option only loses latency
        self.phase = "tls"
        config = link.mqtt_config
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # MicroPython's has it; the stubs omit it
        context.load_verify_locations(cadata=_read_file(config["ca"]))
        context.load_cert_chain(_read_file(config["cert"]), _read_file(config["key"]))
        self.tls = context.wrap_socket(raw, server_hostname=link.host)
        self.phase = "connack"

    def socket(self, *args):
        return self

    def getaddrinfo(self, host, port, *args):
        return self.address

    def connect(self, addr):
        pass  # open() has connected, and done the handshake

    def send_gathered(self):
        if self.gathered:
            self.tls.write(self.gathered)
            self.gathered = bytearray()

    def read(self, n):
        self.send_gathered()
        return self.tls.read(n)

    def write(self, buf, length=-1):
        data = buf if length < 0 else memoryview(buf)[:length]
        self.gathered += data
        return len(data)

    def setblocking(self, flag):
        # umqtt calls setblocking(True) after each packet it reads while connecting (never False).
        self.raw.settimeout(self.timeout_s)

    def close(self):
        for stream in (self.tls, self.raw):
            try:
                stream.close()
            except OSError:
                pass
