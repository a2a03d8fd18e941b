"""A small MQTT 3.1.1 client over mutual TLS for the host side: the cloud publisher, observers in tests.

    python -m tools.mqttc pub --port N --topic cat-feeder/cat-feeder/action --message '{"v":1,...}' [--qos 1]
    python -m tools.mqttc sub --port N --topic cat-feeder/cat-feeder/states [--count 1] [--as device]

`--as publisher|observer|device|rogue-device` picks the certificate from the PKI (default publisher).
From Python: `MqttClient(pki, port, "publisher")`, `.subscribe(topic, qos)` -> the SUBACK's code
(0x80 = failure; mosquitto 2.0 grants even a topic its ACL refuses and then delivers nothing),
`.publish(topic, payload, qos, retain)` (QoS 1 waits for PUBACK), `.receive(timeout_s)` ->
(topic, payload, retain) or None, `.close()`.
Synchronous, one socket, every operation bounded by a timeout. QoS 2 is not supported.
"""

import argparse
import ssl
import struct
import time

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    1, 2, 3, 4, 8, 9, 12, 13, 14)
TIMEOUT_S = 5.0


class MqttError(Exception):
    pass


def _string(value):
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


def _packet(kind, flags, body):
    length = len(body)
    header = bytearray([kind << 4 | flags])
    while True:
        byte = length & 0x7F
        length >>= 7
        header.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


def tls_context(pki, identity, ca="ca"):
    """Client context: trusts `ca`, presents `identity`'s certificate (None: no certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki.cert(ca))
    if identity is not None:
        context.load_cert_chain(pki.cert(identity), pki.key(identity))
    return context


class MqttClient:
    def __init__(self, pki, port, identity="publisher", client_id=None, clean_session=True, keepalive=60,
                 host="localhost", timeout_s=TIMEOUT_S, will=None):
        self.timeout_s = timeout_s
        self.pid = 0
        self.inbox = []
        import socket

        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        try:
            self.sock = tls_context(pki, identity).wrap_socket(raw, server_hostname=host)
        except Exception:
            raw.close()
            raise
        client_id = client_id or "%s-%d" % (identity or "anonymous", time.monotonic_ns() % 10**9)
        flags = 0x02 if clean_session else 0
        payload = _string(client_id)
        if will is not None:
            topic, message = will
            flags |= 0x04 | 0x08  # will, QoS 1
            payload += _string(topic) + _string(message)
        body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
        self.sock.sendall(_packet(CONNECT, 0, body))
        kind, _, body = self._read_packet()
        if kind != CONNACK or body[1] != 0:
            raise MqttError("connect refused: %r" % (body,))
        self.session_present = bool(body[0] & 1)

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise MqttError("connection closed by the broker")
            data += chunk
        return data

    def _read_packet(self):
        first = self._read_exact(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._read_exact(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first >> 4, first & 0x0F, self._read_exact(length)

    def _next_pid(self):
        self.pid = self.pid % 65535 + 1
        return self.pid

    def _until(self, kind, pid, deadline):
        """Read until the packet `kind` with `pid`; publishes meanwhile go to the inbox."""
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            got, flags, body = self._read_packet()
            if got == PUBLISH:
                self._accept(flags, body)
            elif got == kind and struct.unpack("!H", body[:2])[0] == pid:
                return body

    def _accept(self, flags, body):
        (topic_len,) = struct.unpack("!H", body[:2])
        topic = body[2 : 2 + topic_len].decode()
        rest = body[2 + topic_len :]
        if flags & 0x06:
            pid = rest[:2]
            rest = rest[2:]
            self.sock.sendall(_packet(PUBACK, 0, pid))
        self.inbox.append((topic, rest, bool(flags & 1)))

    def subscribe(self, topic, qos=1):
        pid = self._next_pid()
        self.sock.sendall(_packet(SUBSCRIBE, 2, struct.pack("!H", pid) + _string(topic) + bytes([qos])))
        return self._until(SUBACK, pid, time.monotonic() + self.timeout_s)[2]

    def publish(self, topic, payload, qos=1, retain=False):
        if isinstance(payload, str):
            payload = payload.encode()
        flags = qos << 1 | int(retain)
        if qos == 0:
            self.sock.sendall(_packet(PUBLISH, flags, _string(topic) + payload))
            return
        pid = self._next_pid()
        self.sock.sendall(_packet(PUBLISH, flags, _string(topic) + struct.pack("!H", pid) + payload))
        self._until(PUBACK, pid, time.monotonic() + self.timeout_s)

    def receive(self, timeout_s=TIMEOUT_S):
        """The next message (topic, payload, retain), or None after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while not self.inbox:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                kind, flags, body = self._read_packet()
            except TimeoutError:
                return None
            if kind == PUBLISH:
                self._accept(flags, body)
        return self.inbox.pop(0)

    def ping(self):
        self.sock.sendall(_packet(PINGREQ, 0, b""))
        self.sock.settimeout(self.timeout_s)
        while True:
            kind, flags, body = self._read_packet()
            if kind == PINGRESP:
                return
            if kind == PUBLISH:
                self._accept(flags, body)

    def close(self):
        try:
            self.sock.sendall(_packet(DISCONNECT, 0, b""))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv=None):
    from cloud.hub.pki import DEFAULT_DIR, DEFAULT_THING, Pki

    parser = argparse.ArgumentParser(description="tiny mutual-TLS MQTT client")
    parser.add_argument("command", choices=("pub", "sub"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--message", default="")
    parser.add_argument("--qos", type=int, default=1, choices=(0, 1))
    parser.add_argument("--count", type=int, default=0, help="sub: stop after this many (0 = forever)")
    parser.add_argument("--as", dest="identity", default="publisher")
    parser.add_argument("--pki", default=DEFAULT_DIR)
    parser.add_argument("--thing", default=DEFAULT_THING)
    args = parser.parse_args(argv)
    pki = Pki(args.pki, args.thing)
    with MqttClient(pki, args.port, args.identity) as client:
        if args.command == "pub":
            client.publish(args.topic, args.message, args.qos)
            return
        client.subscribe(args.topic, args.qos)
        received = 0
        while not args.count or received < args.count:
            message = client.receive(30)
            if message is None:
                client.ping()
                continue
            print("%s %s" % (message[0], message[1].decode(errors="replace")), flush=True)
            received += 1


if __name__ == "__main__":
    main()
