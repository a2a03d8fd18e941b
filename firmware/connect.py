"""One connect attempt of the link (link.py), from DNS to a subscribed session.

`attempt(link, now_ms)` -> None once the session is up, else "<phase>: <detail>" for
`link.last_error`, with phase `dns`, `tcp`, `tls` (certificate, host name, or the certificate
files), `connack` (the broker's refusal code, or no answer), `subscribe`. The link loads this
module for each attempt with bootonly.call, which releases it afterwards together with what it
imported (umqtt.simple, ssl): none of it is needed between connects (bench/module_heap.py).

umqtt.simple (1.3.4, pinned by tools/setup/fetch_umqtt.py) builds CONNECT and SUBSCRIBE and reads
CONNACK and SUBACK. It gets `ssl=False` and, as its `socket` module, an `_Attempt`, whose socket
does TCP and then TLS in its `connect(addr)`, so umqtt's TLS API is not involved.

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
import socket
import ssl

import umqtt.simple as umqtt_simple
from link import describe
from micropython import const
from umqtt.simple import MQTTClient, MQTTException

# Option numbers of Linux and lwIP alike; the ports do not all export the names.
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)
CONNACK_CODES = ("accepted", "unacceptable protocol version", "client id rejected", "server unavailable",
                 "bad user name or password", "not authorized")


def attempt(link, now_ms):
    """Connect `link`; on success it holds the TLS stream (link.attach), on failure nothing is left open."""
    sockets = _Attempt(link)
    umqtt_simple.socket = sockets  # type: ignore[attr-defined]
    try:
        _open_session(link, sockets, now_ms)
        return None
    except Exception as exc:
        if not link.connected:
            sockets.close()  # once attached, the link closes the stream when it drops
        return _error_text(sockets.phase, exc, link.timeout_ms)
    finally:
        umqtt_simple.socket = socket  # type: ignore[attr-defined]


def _open_session(link, sockets, now_ms):
    client = MQTTClient(link.thing, link.host, port=link.mqtt_config["port"], keepalive=link.keepalive_s,
                        ssl=False)
    if link.will is not None:
        client.set_last_will(link.will[0], link.will[1], retain=True, qos=1)
    session_present = client.connect(False)
    link.attach(sockets.tls, now_ms)
    if not session_present and link.action_topic is not None:
        sockets.phase = "subscribe"
        client.set_callback(link.on_message)
        client.pid = link.next_pid() - 1  # umqtt counts up before use: SUBSCRIBE takes the link's next id
        client.subscribe(link.action_topic, 1)
    sockets.send_gathered()  # from here on the link writes whole packets itself


def _error_text(phase, exc, timeout_ms):
    if isinstance(exc, MQTTException) and phase == "connack":
        code = exc.args[0] if exc.args else -1
        meaning = CONNACK_CODES[code] if 0 <= code < len(CONNACK_CODES) else "unknown"
        return "connack: refused, code %d (%s)" % (code, meaning)
    if isinstance(exc, OSError) and exc.args and exc.args[0] == errno.ETIMEDOUT:
        return "%s: no answer within %d ms" % (phase, timeout_ms)
    return "%s: %s" % (phase, describe(exc))


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


class _Attempt:
    """umqtt's `socket` module during one attempt, and the socket it makes: socket() is this object,
    getaddrinfo is the DNS phase, connect(addr) does TCP and the TLS handshake."""

    def __init__(self, link):
        self.link = link
        self.phase = "dns"
        self.timeout_s = link.timeout_ms / 1000
        self.raw = socket.socket()
        self.raw.settimeout(self.timeout_s)
        self.tls = self.raw  # the TLS stream once connect() has done the handshake
        # umqtt's pieces of each packet, sent as one write when it next reads.
        self.gathered = bytearray()

    def socket(self, *args):
        return self

    def getaddrinfo(self, host, port, *args):
        found = socket.getaddrinfo(host, port, *args)
        self.phase = "tcp"
        return found

    def connect(self, addr):
        raw = self.raw
        raw.connect(addr)
        try:
            raw.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass  # a port without the option only loses latency
        self.phase = "tls"
        config = self.link.mqtt_config
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # MicroPython's has it; the stubs omit it
        context.load_verify_locations(cadata=_read_file(config["ca"]))
        context.load_cert_chain(_read_file(config["cert"]), _read_file(config["key"]))
        self.tls = context.wrap_socket(raw, server_hostname=self.link.host)
        self.phase = "connack"

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
