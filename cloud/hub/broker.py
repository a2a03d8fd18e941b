"""The local AWS IoT Core stand-in: mosquitto with mutual TLS and an ACL mirroring the IoT policies.

    python -m cloud.hub.broker run   [--port N] [--dir .pki/broker] [--pki .pki] [--thing cat-feeder]
    python -m cloud.hub.broker start [...]    # in the background; prints the port, state in <dir>/broker.json
    python -m cloud.hub.broker stop  [--dir .pki/broker]

From Python (pytest fixtures): `Broker(pki, state_dir).start()`, then `.port`, `.stop()`,
`.kill()` (SIGKILL, as a crash), `.restart()` (same port, same persistence).

The config (written to <dir>/mosquitto.conf from cloud/hub/mosquitto/*.template):
- one listener on 127.0.0.1, TLS 1.2, `require_certificate`, `use_identity_as_username`
  (the client's certificate CN is its user name, as the certificate is its identity in IoT Core);
- persistence: sessions and their queued QoS 1 messages survive stop()/restart() (SIGTERM saves
  them). `persistence="every-change"` (the default, the IoT Core stand-in of the tests) also saves
  the file after every change, but from mosquitto's main loop, a few ms after the PUBACK went out: a
  kill() (SIGKILL) inside that window loses the last change, a property of mosquitto (AWS IoT Core
  does not lose an acknowledged message). `persistence="sd-card"` (the hub's own broker, `python -m
  cloud.hub run`) saves every 30 s instead: each save rewrites the whole state, so saving per change
  writes that state once per message; the trade-off is in cloud/hub/README.md;
- `user <invoking user>`: mosquitto started as root would otherwise switch to the `mosquitto`
  user, which cannot read the 0600 keys nor write a private temp dir;
- ACL (cloud/hub/acl.py, written at every start): each thing of the household (user = certificate CN =
  thing name) its role's own topics, as its IoT policy grants them: a feeder reads its own action topic
  and writes its own states topic (its last will goes there too) and its own button topic, a button
  writes its own button topic only (docs/protocol.md, "Topics"); the cloud publisher writes every
  action and button topic; the cloud observer reads the states and button topics (in AWS the IoT rules
  do that); the hub (cloud/hub/) reads the button and states topics; nothing else.
  mosquitto 2.0 grants a SUBSCRIBE the ACL does not allow (the SUBACK carries the granted QoS,
  not 0x80) and then delivers nothing on it, since it checks `read` per message; it acknowledges
  a refused PUBLISH and drops it (MQTT 3.1.1 has no negative PUBACK). Both are tested in
  tests/integration/test_tls_refusals.py. AWS IoT Core answers 0x80 instead.
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

from cloud.hub import acl
from cloud.hub.pki import DEFAULT_DIR as DEFAULT_PKI_DIR
from cloud.hub.pki import DEFAULT_THING, Pki
from cloud.hub.processes import end_process, free_port
from cloud.topology import TOPOLOGY

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # Debian puts it in sbin
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mosquitto")
READY_TIMEOUT_S = 10.0
# mosquitto's autosave settings, by use (see the module docstring).
PERSISTENCE = {
    "every-change": "autosave_on_changes true\nautosave_interval 1",
    "sd-card": "autosave_on_changes false\nautosave_interval 30",
}


class Broker:
    """One mosquitto process; its config, ACL, log and persistence live in state_dir."""

    def __init__(self, pki, state_dir, port=None, server_cert="broker", bind="127.0.0.1",
                 persistence="every-change", things=None, topology=TOPOLOGY):
        """things: the household's things the ACL grants ({"name", "role"} entries, cloud/household.py's
        topology["things"]); by default the PKI's own thing, a feeder."""
        self.pki = pki
        self.things = things if things is not None else [{"name": pki.thing, "role": "feeder"}]
        self.topology = topology
        self.autosave = PERSISTENCE[persistence]
        self.bind = bind  # the hub serving a home network binds its LAN address (or 0.0.0.0)
        self.server_cert = server_cert  # "rogue-broker" / "wrong-host-broker" for refusal tests
        self.dir = os.path.abspath(state_dir)
        self.port = port or free_port()
        self.proc = None
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        self.stderr_path = os.path.join(self.dir, "mosquitto.stderr")

    def write_config(self):
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        acl_path = os.path.join(self.dir, "acl")
        values = {
            "port": self.port,
            "bind": self.bind,
            "user": pwd.getpwuid(os.getuid()).pw_name,
            "cafile": self.pki.cert("ca"),
            "certfile": self.pki.cert(self.server_cert),
            "keyfile": self.pki.key(self.server_cert),
            "acl_file": acl_path,
            "log_file": self.log_path,
            "persistence_location": os.path.join(self.dir, "data") + "/",
            "autosave": self.autosave,
        }
        _render(os.path.join(TEMPLATES, "mosquitto.conf.template"), self.conf_path, values)
        with open(acl_path, "w") as f:
            f.write(acl.render(self.topology, self.things, self.pki))

    def start(self):
        self.write_config()
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        # Its log goes to log_path (flushed per line); stderr only carries start-up errors. No pipes:
        # a broker started by the CLI outlives this process. Its own session: a terminal's Ctrl-C goes
        # to the process that started it (make hub, make device), which stops it after its clients,
        # instead of the broker vanishing under them.
        with open(self.stderr_path, "ab") as stderr:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf_path], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        self._wait_running(offset)
        return self

    def _wait_running(self, offset):
        """Ready when mosquitto logs "running" (after opening its listener); probing the port
        instead would log a failed TLS connection."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.stderr_path, errors="replace") as f:
                    raise RuntimeError("mosquitto exited with %s: %s" % (self.proc.returncode, f.read()))
            if os.path.exists(self.log_path):
                with open(self.log_path, "rb") as f:
                    f.seek(offset)
                    if b" running" in f.read():
                        return
            time.sleep(0.02)
        raise RuntimeError("mosquitto not running after %.0f s:\n%s" % (READY_TIMEOUT_S, self.log()[offset:]))

    def stop(self):
        """Graceful stop (SIGTERM): mosquitto saves its persistence file."""
        self._end(signal.SIGTERM)

    def kill(self):
        """Crash (SIGKILL): only what the last autosave wrote survives."""
        self._end(signal.SIGKILL)

    def restart(self, graceful=True):
        if graceful:
            self.stop()
        else:
            self.kill()
        return self.start()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_for_log(self, text, timeout_s=5.0):
        """Whether text shows up in the log within timeout_s: mosquitto logs a refused handshake after
        the client has already seen the refusal (later with RSA keys, whose operations take longer)."""
        deadline = time.monotonic() + timeout_s
        while text not in self.log():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _end(self, sig):
        if self.proc is not None:
            end_process(self.proc, sig)
        self.proc = None

    def __enter__(self):
        return self.start() if not self.running else self

    def __exit__(self, *exc):
        self.stop()


def _render(template, target, values):
    with open(template) as f:
        text = f.read()
    with open(target, "w") as f:
        f.write(text.format(**values))


def _state_file(state_dir):
    return os.path.join(state_dir, "broker.json")


def main(argv=None):
    parser = argparse.ArgumentParser(description="local mosquitto with mutual TLS")
    parser.add_argument("command", choices=("run", "start", "stop"))
    parser.add_argument("--pki", default=DEFAULT_PKI_DIR)
    parser.add_argument("--thing", default=DEFAULT_THING)
    parser.add_argument("--dir", default=os.path.join(DEFAULT_PKI_DIR, "broker"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    state = _state_file(args.dir)
    if args.command == "stop":
        if not os.path.exists(state):
            print("no broker started from %s" % args.dir)
            return
        with open(state) as f:
            pid = json.load(f)["pid"]
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.remove(state)
        print("stopped broker pid %d" % pid)
        return
    pki = Pki(args.pki, args.thing).ensure()
    broker = Broker(pki, args.dir, port=args.port)
    if args.command == "start":
        broker.start()
        with open(state, "w") as f:
            json.dump({"pid": broker.proc.pid, "port": broker.port}, f)
        print(broker.port)
        return
    broker.start()
    print("mosquitto on 127.0.0.1:%d (mutual TLS; CA %s; log %s). Ctrl-C stops it."
          % (broker.port, pki.cert("ca"), broker.log_path))
    try:
        broker.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
