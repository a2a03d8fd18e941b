"""One connect attempt of the link (link.py), from DNS to a subscribed session.

`attempt(link, now_ms)` -> None once the session is up, else "<phase>: <detail>" for
`link.last_error`, with phase `dns`, `tcp`, `tls` (certificate, host name, or the certificate
files), `connack` (the broker's refusal code, or no answer), `subscribe` (writing SUBSCRIBE; a
refusal in SUBACK is link.py's to report, as it reads SUBACK). The link loads this module for each
attempt with bootonly.call, which releases it afterwards together with what it imported (ssl): none
of it is needed between connects (bench/module_heap.py).

The MQTT 3.1.1 packets of a connect (CONNECT, CONNACK, SUBSCRIBE) are written and read here, as
link.py writes and reads those of the session: no MQTT library is imported. Stock ESP32 images
freeze umqtt.simple (ports/esp32/boards/manifest.py: 1.6 in MicroPython 1.25-1.26, 1.7 in
1.27-1.28), and the board's sys.path puts `.frozen` before `/lib`, so the board would import that
copy whatever was installed beside the firmware, and its connect() differs from release to release
(1.6 sets a timeout on the socket it is given). Three short packets are less to trust than a
library whose version the image decides.

TLS (MicroPython's `ssl.SSLContext`, on the board and the unix port alike): client certificate
and key, and the CA that verifies the server with `CERT_REQUIRED`, read from flash (DER, at the
paths in config) for each attempt; `server_hostname=host` for SNI and the hostname check. Only
the wrapped socket is kept: on MicroPython 1.29 it holds the context it was made from
(extmod/modtls_mbedtls.c), so the parsed certificates live as long as the connection and no
longer. A certificate from another CA or for another host name fails the handshake with
ValueError and a readable text; a missing certificate file fails the attempt the same way, in the
`tls` phase, rather than the boot.
TCP_NODELAY is set: an MQTT packet is one write, and Nagle would hold it behind the previous
packet's unacknowledged segment (tens of ms on every exchange).

Never hangs: the TCP socket gets the link's `timeout_ms` before it connects, so the TCP connect,
the handshake and every read and write on the connection (the link's too) are bounded by it
(DNS aside, which the OS bounds).

Session: clean session off, client id = thing name, the link's will (topic, payload) retained at
QoS 1, no user name (mutual TLS identifies the device). Every connect subscribes the link's topics
at QoS 1 with its next packet id, a session present or not: a firmware that added a topic (the
schedule shadow's, an update's) finds the session its predecessor left, and the broker only replaces
an identical subscription without interrupting its flow (MQTT 3.1.1, 3.8.4). The SUBACK, and any
message that follows it, come through link.poll.
"""

import errno
import socket
import ssl
import struct

from link import describe, fixed_header
from micropython import const

# Option numbers of Linux and lwIP alike; the ports do not all export the names.
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)
_CONNECT = const(0x10)
_CONNACK = const(0x20)
_SUBSCRIBE = const(0x82)  # the flags MQTT 3.1.1 requires of SUBSCRIBE
# CONNECT flags: will, will QoS 1, will retained; clean session stays off.
_WILL_QOS1_RETAINED = const(0x2C)
CONNACK_CODES = ("accepted", "unacceptable protocol version", "client id rejected", "server unavailable",
                 "bad user name or password", "not authorized")


def attempt(link, now_ms):
    """Connect `link`; on success it holds the TLS stream (link.attach), on failure nothing is left open."""
    raw = socket.socket()
    stream = raw
    phase = "dns"
    try:
        raw.settimeout(link.timeout_ms / 1000)
        address = socket.getaddrinfo(link.host, link.mqtt_config["port"])[0][-1]
        phase = "tcp"
        raw.connect(address)
        try:
            raw.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass  # a port without the option only loses latency
        phase = "tls"
        stream = _handshake(raw, link)
        phase = "connack"
        error = _open_session(link, stream)
        if error is None:
            link.attach(stream, now_ms)
            if link.subscriptions:
                phase = "subscribe"
                _subscribe(link, stream)
    except Exception as exc:
        error = _error_text(phase, exc, link.timeout_ms)
    if error is not None and not link.connected:  # once attached, the link closes the stream when it drops
        for each in (stream, raw):
            try:
                each.close()
            except OSError:
                pass
    return error


def _handshake(raw, link):
    config = link.mqtt_config
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # MicroPython's has it; the stubs omit it
    context.load_verify_locations(cadata=_read_file(config["ca"]))
    context.load_cert_chain(_read_file(config["cert"]), _read_file(config["key"]))
    return context.wrap_socket(raw, server_hostname=link.host)


def _open_session(link, stream):
    """CONNECT and CONNACK over the open TLS stream: None when accepted, else why not."""
    body = bytearray(b"\x00\x04MQTT\x04\x00")  # protocol name, level 4 (3.1.1), flags (below)
    body.extend(struct.pack("!H", link.keepalive_s))
    _put_string(body, link.thing)
    if link.will is not None:
        body[7] = _WILL_QOS1_RETAINED
        _put_string(body, link.will[0])
        _put_string(body, link.will[1])
    stream.write(fixed_header(_CONNECT, len(body)) + body)
    answer = stream.read(4)
    if not answer:
        return "connack: connection closed without an answer"
    if len(answer) != 4 or answer[0] != _CONNACK or answer[1] != 2:
        return "connack: not a CONNACK (%d bytes, first 0x%02x)" % (len(answer), answer[0])
    code = answer[3]
    if code:
        meaning = CONNACK_CODES[code] if code < len(CONNACK_CODES) else "unknown"
        return "connack: refused, code %d (%s)" % (code, meaning)
    return None


def _subscribe(link, stream):
    body = bytearray(struct.pack("!H", link.next_pid()))
    for topic in link.subscriptions:
        _put_string(body, topic)
        body.append(1)  # QoS 1
    stream.write(fixed_header(_SUBSCRIBE, len(body)) + body)


def _put_string(buf, text):
    data = text.encode() if isinstance(text, str) else text
    buf.extend(struct.pack("!H", len(data)))
    buf.extend(data)


def _error_text(phase, exc, timeout_ms):
    if isinstance(exc, OSError) and exc.args and exc.args[0] == errno.ETIMEDOUT:
        return "%s: no answer within %d ms" % (phase, timeout_ms)
    return "%s: %s" % (phase, describe(exc))


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()
