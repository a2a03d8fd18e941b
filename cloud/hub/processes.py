"""What every local stand-in and test rig needs: a free port on 127.0.0.1, a child server awaited until
it answers HTTP, and a child process ended cleanly (mosquitto, moto's server, the hub, the device on the
unix port)."""

import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

STOP_TIMEOUT_S = 10.0


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(proc, url, timeout_s, name):
    """Return once url answers over HTTP, with any status; end proc and raise RuntimeError if it exits or
    does not answer within timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                end_process(proc)
                raise RuntimeError("%s did not start on %s" % (name, url)) from None
            time.sleep(0.1)


def end_process(proc, sig=signal.SIGTERM, timeout_s=STOP_TIMEOUT_S):
    """Send sig to a child still running and reap it; SIGKILL when it outlives timeout_s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
