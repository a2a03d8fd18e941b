"""Child processes of the hub and of the local stand-ins and rigs: a free port on 127.0.0.1, and a
child process ended cleanly (mosquitto, moto's server, the hub, the device on the unix port)."""

import signal
import socket
import subprocess

STOP_TIMEOUT_S = 10.0


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def end_process(proc, sig=signal.SIGTERM, timeout_s=STOP_TIMEOUT_S):
    """Send sig to a child still running and reap it; SIGKILL when it outlives timeout_s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
