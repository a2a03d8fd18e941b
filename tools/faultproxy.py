"""A TCP proxy between the device and the broker that injects network faults on command.

    proxy = FaultProxy(broker_port).start()   # listens on 127.0.0.1:proxy.port
    proxy.stall()       # keep every connection open but forward nothing (a dead Wi-Fi link)
    proxy.resume()      # forward again (bytes held back during a stall are then delivered)
    proxy.cut()         # reset every open connection (RST to both sides)
    proxy.half_close()  # shut down the write side towards the device: it reads EOF, its writes still go
    proxy.hold_to_device()  # hold back what the broker sends (a lost PUBACK); the device's bytes still go
    proxy.hold_to_device(False)  # deliver the held bytes
    proxy.refuse(True)  # close new connections at once (broker unreachable); refuse(False) undoes it
    proxy.pace(1024, 0.01)  # at most 1024 bytes per read, then a 10 ms pause (a slow link); pace() undoes it
    proxy.connections   # connections accepted so far;  proxy.open_connections()
    proxy.stop()

A stall applies to new connections too, so a device that reconnects into a stall times out
again. Loopback only; at most MAX_CONNECTIONS at once; one thread for all traffic (selectors).
Also a CLI for manual experiments: `python -m tools.faultproxy BROKER_PORT` then type
stall/resume/cut/half/quit.
"""

import selectors
import socket
import struct
import sys
import threading
import time

MAX_CONNECTIONS = 16
CHUNK = 16384
TICK_S = 0.05


def _reset(sock):
    """Close with RST instead of FIN (SO_LINGER 0): what a dropped NAT entry or reboot looks like."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Pair:
    def __init__(self, device, broker):
        self.device = device
        self.broker = broker
        self.device_open = True  # forwarding towards the device still allowed

    def peer(self, sock):
        return self.broker if sock is self.device else self.device


class FaultProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.stalled = False
        self.holding = False  # broker -> device bytes held back
        self.refusing = False
        self.read_size, self.pause_s = CHUNK, 0.0
        self._pairs = []
        self._commands = []
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._running = False
        self._thread = threading.Thread(target=self._serve, name="faultproxy", daemon=True)

    def start(self):
        self._running = True
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._thread.start()
        return self

    def stop(self):
        self._running = False
        self._thread.join(5)
        for pair in list(self._pairs):
            self._close(pair, reset=False)
        self._selector.close()
        self.listener.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # Controls: run on the proxy thread at its next tick, and wait for it.
    def stall(self):
        self._do(lambda: self._set_stalled(True))

    def resume(self):
        self._do(lambda: self._set_stalled(False))

    def cut(self):
        self._do(lambda: [self._close(pair, reset=True) for pair in list(self._pairs)])

    def half_close(self):
        self._do(lambda: [self._half_close(pair) for pair in list(self._pairs)])

    def hold_to_device(self, flag=True):
        self._do(lambda: self._set_holding(flag))

    def refuse(self, flag=True):
        self.refusing = flag

    def pace(self, read_size=CHUNK, pause_s=0.0):
        self.read_size, self.pause_s = read_size, pause_s

    def open_connections(self):
        return len(self._pairs)

    def _do(self, action):
        done = threading.Event()
        with self._lock:
            self._commands.append((action, done))
        if not done.wait(5):
            raise RuntimeError("fault proxy thread is not responding")

    def _set_stalled(self, flag):
        self.stalled = flag
        self._rearm()

    def _set_holding(self, flag):
        self.holding = flag
        self._rearm()

    def _reads(self, pair, sock):
        return not self.stalled and not (self.holding and sock is pair.broker)

    def _rearm(self):
        """A socket is read only while its direction flows, so held bytes wait in kernel buffers."""
        for pair in self._pairs:
            for sock in (pair.device, pair.broker):
                key = self._selector.get_map().get(sock)
                if not self._reads(pair, sock) and key is not None:
                    self._selector.unregister(sock)
                elif self._reads(pair, sock) and key is None:
                    self._selector.register(sock, selectors.EVENT_READ, pair)

    def _serve(self):
        while self._running:
            with self._lock:
                commands, self._commands = self._commands, []
            for action, done in commands:
                action()
                done.set()
            for key, _ in self._selector.select(TICK_S):
                if key.fileobj is self.listener:
                    self._accept()
                else:
                    self._forward(key.fileobj, key.data)

    def _accept(self):
        device, _ = self.listener.accept()
        self.connections += 1
        if self.refusing or len(self._pairs) >= MAX_CONNECTIONS:
            _reset(device)
            return
        try:
            broker = socket.create_connection(self.target, timeout=2)
        except OSError:
            _reset(device)
            return
        broker.settimeout(None)
        pair = _Pair(device, broker)
        self._pairs.append(pair)
        self._rearm()

    def _forward(self, sock, pair):
        try:
            data = sock.recv(self.read_size)
        except OSError:
            data = b""
        if not data:
            self._close(pair, reset=False)
            return
        target = pair.peer(sock)
        if target is pair.device and not pair.device_open:
            return  # half-closed towards the device: drop what the broker says
        try:
            target.sendall(data)
        except OSError:
            self._close(pair, reset=True)
        time.sleep(self.pause_s)

    def _half_close(self, pair):
        pair.device_open = False
        try:
            pair.device.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _close(self, pair, reset):
        if pair not in self._pairs:
            return
        self._pairs.remove(pair)
        for sock in (pair.device, pair.broker):
            if self._selector.get_map().get(sock) is not None:
                self._selector.unregister(sock)
            if reset:
                _reset(sock)
            else:
                sock.close()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    proxy = FaultProxy(int(argv[0])).start()
    print("proxy on 127.0.0.1:%d -> %s" % (proxy.port, argv[0]))
    print("commands: stall resume cut half refuse accept quit", flush=True)
    actions = {"stall": proxy.stall, "resume": proxy.resume, "cut": proxy.cut, "half": proxy.half_close,
               "refuse": lambda: proxy.refuse(True), "accept": lambda: proxy.refuse(False)}
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command in actions:
            actions[command]()
        print("%s (open connections: %d)" % (command, proxy.open_connections()), flush=True)
    proxy.stop()


if __name__ == "__main__":
    main()
