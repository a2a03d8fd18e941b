"""`make device` as a newcomer runs it (python -m tools.device run, in a fresh folder): alone with its
private broker, then the README's "On one machine" in its order: the hub (python -m cloud.hub run),
the simulated board on it (`make device HUB=1`; here BROKER_PORT= of the test's hub), the page
(python -m web) and a press of the board's button, which feeds and shows on the page. A result the
device numbered on its private broker must not show on the hub as a missing one (each broker has its
own flash folder, as two boards would), and Ctrl-C stops the device in one line, with no MicroPython
traceback."""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading

from cloud.hub import projection
from cloud.hub.processes import end_process, free_port
from rigs.device import command, wait_for
from rigs.web import WebServer
from tests.integration.web_client import PageClient
from tests.makerun import make, own_lines
from tools.mqttc import MqttClient
from tools.sim_board import press_button

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_HOUSEHOLD = os.path.join(ROOT, "no-such-household.json")  # the single feeder cat-feeder


class DeviceTool:
    """`python -m tools.device run ARGS` in cwd, in its own session as a terminal's foreground job."""

    def __init__(self, cwd, *args):
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.proc = subprocess.Popen([sys.executable, "-m", "tools.device", "run", *args], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines, self.said = queue.Queue(), []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, prefix, timeout_s=20):
        while True:
            try:
                line = self.lines.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError("no %r; it said %r" % (prefix, self.said)) from None
            self.said.append(line)
            if line.startswith(prefix):
                return line

    def ctrl_c(self):
        """What the terminal does on Ctrl-C: SIGINT to the foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(15)
        self.pump.join(15)  # to the end of its output (the device, in its own session, is stopped too)
        while not self.lines.empty():
            self.said.append(self.lines.get())
        return self.said

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        end_process(self.proc)


def test_alone_then_hub_board_page_and_a_press_no_missing_result_and_ctrl_c_is_one_line(pki, tmp_path):
    home = tmp_path / "clone"
    home.mkdir()
    # Alone: a private broker; a command sent to it is answered with the device's result seq 1.
    alone = DeviceTool(home, "--pki", pki.dir, "--household", NO_HOUSEHOLD)
    try:
        port = int(alone.expect("device: flash").split("127.0.0.1:")[1].split(",")[0])
        alone.expect("app: up")
        with MqttClient(pki, port, "observer") as results, MqttClient(pki, port, "publisher") as cloud:
            results.subscribe("cat-feeder/cat-feeder/states", qos=1)
            cloud.publish("cat-feeder/cat-feeder/action", command("alone-1"), qos=1)
            answer = {}
            while answer.get("type") != "result":
                answer = json.loads(results.receive(timeout_s=10)[1])
        assert (answer["id"], answer["seq"]) == ("alone-1", 1)
        said = alone.ctrl_c()
    finally:
        alone.kill()
    assert said[-1].startswith("device: stopped (Ctrl-C)"), said
    assert not [line for line in said if "Traceback" in line or "KeyboardInterrupt" in line], said
    # The private broker is stopped after the device, not by the same Ctrl-C under it.
    assert not [line for line in said if line.startswith(("app: down", "app: connect failed"))], said

    # The README's order: the hub, the board on it, the page, a press of the board's button.
    port, data = free_port(), tmp_path / "hub"
    with open(tmp_path / "hub.log", "w") as log:
        hub = subprocess.Popen([sys.executable, "-m", "cloud.hub", "run", "--data-dir", str(data), "--pki",
                                pki.dir, "--port", str(port), "--household", NO_HOUSEHOLD], cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    on_hub = page = None
    try:
        wait_for(lambda: "Ctrl-C stops" in (tmp_path / "hub.log").read_text(), 20, "the hub")
        on_hub = DeviceTool(home, "--pki", pki.dir, "--port", str(port), "--household", NO_HOUSEHOLD)
        assert "the hub's broker 127.0.0.1:%d" % port in on_hub.expect("device: flash")
        on_hub.expect("app: up")
        page = WebServer("--data-dir", data, "--pki", pki.dir, "--broker-port", port, "--household",
                         NO_HOUSEHOLD).start()
        press_button(str(home / ".flash" / "device-hub"), "SINGLE")
        press_id = on_hub.expect("button: SINGLE").split()[-1]
        client = PageClient(page.url)
        client.open_page()

        def shown():
            status, _, body = client.request("GET", "/api/presses/" + press_id)
            return status == 200 and "dispensed" in json.dumps(body)

        wait_for(shown, 15, "the press, dispensed, on the page")
        store = projection.SqliteStore(str(data / "history.sqlite3"))
        (device,) = [row for key, row in store.rows() if not key.startswith("press#")]
        store.close()
        # Numbered from 1 on this broker too: the dispense is seq 1, and the `duplicate` answer to the hub's
        # command for the same press (docs/protocol.md, local-first) may or may not have arrived yet.
        assert device["received"][0][0] == 1 and device.get("missing", []) == [], device
    finally:
        if page is not None:
            page.stop()
        if on_hub is not None:
            on_hub.kill()
        end_process(hub)


def test_make_device_on_a_hub_that_is_not_running_says_so_in_one_line():
    port = free_port()
    done = make("device", "HUB=1", "BROKER_PORT=%d" % port, "HOUSEHOLD=" + NO_HOUSEHOLD, timeout=60)
    assert done.returncode != 0
    assert own_lines(done.stderr) == [
        "device: nothing listens on 127.0.0.1:%d: start the hub first (make hub), or pass its BROKER_PORT="
        % port], done.stderr
    assert done.stdout == ""


def test_a_device_joining_a_broker_without_the_pki_refuses_and_makes_no_new_ca(tmp_path, capsys):
    """A new CA would not be the one the running hub's broker trusts: the board would fail TLS forever."""
    from tools import device

    with socket.create_server(("127.0.0.1", 0)) as listening:  # something listens, as a hub would
        argv = ["run", "--port", str(listening.getsockname()[1]), "--pki", str(tmp_path / "pki")]
        assert device.main(argv + ["--flash", str(tmp_path / "flash"), "--household", NO_HOUSEHOLD]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("device: no PKI in %s" % (tmp_path / "pki")), err
    assert "make pki, restart the hub" in err
    assert not (tmp_path / "pki").exists() and not (tmp_path / "flash").exists()


def test_a_second_device_on_the_same_flash_is_refused_in_one_line(tmp_path, capsys):
    """`make device HUB=1 THING=kitchen` run twice: one board per flash folder, as one hub per data folder."""
    from cloud.hub.lock import DataDirLock
    from tools import device

    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text("")  # the hub's PKI is there; nothing gets as far as using it
    running = DataDirLock(str(tmp_path / "flash"), "device").acquire()  # the first device
    try:
        with socket.create_server(("127.0.0.1", 0)) as listening:
            argv = ["run", "--port", str(listening.getsockname()[1]), "--pki", str(tmp_path / "pki")]
            argv += ["--flash", str(tmp_path / "flash"), "--household", NO_HOUSEHOLD]
            assert device.main(argv) == 1
    finally:
        running.release()
    err = capsys.readouterr().err
    said = "device: another device (pid %d) is running on %s: stop it first (Ctrl-C in its terminal), or "
    said += "give this one another THING= (or --flash)\n"
    assert err == said % (os.getpid(), tmp_path / "flash"), err


def test_on_a_hub_without_thing_a_household_not_naming_cat_feeder_is_one_line(tmp_path, capsys):
    """The hub's broker grants the household's things alone: cat-feeder would connect and be granted
    nothing, silently."""
    from tools import device

    path = tmp_path / "household.json"
    path.write_text(json.dumps({"things": [{"thing": "kitchen"}]}))
    with socket.create_server(("127.0.0.1", 0)) as listening:
        argv = ["run", "--port", str(listening.getsockname()[1]), "--household", str(path)]
        assert device.main(argv + ["--flash", str(tmp_path / "flash")]) == 1
    assert capsys.readouterr().err == (
        "device: thing: 'cat-feeder' is not in the household file (it names kitchen): pass THING=\n")
    assert not (tmp_path / "flash").exists()
