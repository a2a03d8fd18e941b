"""The device's mutual-TLS handshake on the MicroPython unix port: RSA-2048 (the default PKI, as AWS
IoT issues) against EC P-256, time and the smallest heap that completes it.

    .venv/bin/python bench/tls_handshake.py            (make bench runs it)

Per key type: a fresh development PKI (CA, broker and device keys of that type) and mosquitto with
require_certificate. 1. HANDSHAKES handshakes in one MicroPython process (-X heapsize=128K, as the
device tests), each timed with ticks_us around ssl.wrap_socket (TCP connect excluded), with the
parameters the firmware's link passes (key, cert, cadata, CERT_REQUIRED, server_hostname).
2. The smallest -X heapsize (bisected in 2K steps) for the probe with one handshake and with none
(files read, nothing else). The difference is what a handshake needs from MicroPython's GC heap;
mbedTLS's own buffers and key arithmetic come from the C allocator on the unix port (as from the IDF
heap on the board), so they are not in this figure.
"""

import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.heap_bisection import smallest_heap_k  # noqa: E402
from cloud.hub.broker import Broker  # noqa: E402
from cloud.hub.pki import Pki  # noqa: E402

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
COMMAND_LINE = ".venv/bin/python bench/tls_handshake.py"
HANDSHAKES = 20
HEAP_LOW_K, HEAP_HIGH_K = 8, 128

# Runs on MicroPython: argv = pki dir, port, count; prints one handshake time (us) per line.
HANDSHAKE_PROBE = """
import socket, ssl, sys, time
pki, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def der(name):
    with open(pki + "/" + name, "rb") as f:
        return f.read()
key, cert, ca = der("device.key.der"), der("device.crt.der"), der("ca.der")
address = socket.getaddrinfo("127.0.0.1", port)[0][-1]
for _ in range(count):
    sock = socket.socket()
    sock.connect(address)
    start = time.ticks_us()
    tls = ssl.wrap_socket(sock, key=key, cert=cert, cadata=ca, cert_reqs=ssl.CERT_REQUIRED,
                          server_hostname="localhost")
    print(time.ticks_diff(time.ticks_us(), start))
    tls.close()
"""


def handshakes(pki, port, count, heapsize="128K"):
    """Handshake times in ms, or None when the process failed (e.g. MemoryError)."""
    proc = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=" + heapsize, "-c", HANDSHAKE_PROBE, pki.dir, str(port), str(count)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) != count:
        return None
    return [int(line) / 1000 for line in lines]


def smallest_handshake_heap_k(pki, port, count):
    return smallest_heap_k(lambda k: handshakes(pki, port, count, "%dK" % k) is not None,
                           HEAP_LOW_K, HEAP_HIGH_K, 2)


def measure(workdir, key_type):
    pki = Pki(os.path.join(workdir, key_type), key_type=key_type).ensure()
    broker = Broker(pki, os.path.join(workdir, key_type + "-broker")).start()
    try:
        times = handshakes(pki, broker.port, HANDSHAKES)
        if times is None:
            raise SystemExit("bench: %s handshakes failed at 128K" % key_type)
        with_one, without = (smallest_handshake_heap_k(pki, broker.port, count) for count in (1, 0))
        return times, with_one, without
    finally:
        broker.stop()


def main():
    print("command: %s (MicroPython unix port, mosquitto, mutual TLS)" % COMMAND_LINE)
    with tempfile.TemporaryDirectory() as workdir:
        results = {key_type: measure(workdir, key_type) for key_type in ("rsa", "ec")}
    for key_type, (times, heap_k, baseline_k) in results.items():
        print("%s: handshake p50 %.1f ms, max %.1f ms over %d;" % (
            key_type, statistics.median(times), max(times), len(times)))
        print("  smallest -X heapsize: %sK with one handshake, %sK without" % (heap_k, baseline_k))
    rsa, ec = (statistics.median(results[k][0]) for k in ("rsa", "ec"))
    print("rsa / ec handshake time (p50): %.2f" % (rsa / ec))


if __name__ == "__main__":
    main()
