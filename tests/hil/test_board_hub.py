"""The README's hub-at-an-IP path, end to end on the simulated board: `make hub` bound to the LAN with
its address in the broker certificate (`--host-name`), `make flash HUB=<that address>`, the board boots
from what was flashed, verifies the hub (CERT_REQUIRED, the address checked against the certificate,
as on a board) and a press of its button feeds and reaches the hub's ledger.

127.0.0.2 plays the hub's LAN address: a loopback address (so nothing leaves this machine) that no
broker certificate names unless `--host-name` puts it there.
"""

import json
import os
import subprocess
import sys

import pytest

from cloud.hub import ledger as ledger_mod
from cloud.hub.pki import Pki
from cloud.hub.processes import end_process, free_port
from rigs.device import Device, dispense_starts, rig_config, wait_for
from tests.hil.conftest import REAL_BOARD
from tools import board
from tools.sim_board import press_button

pytestmark = pytest.mark.skipif(bool(REAL_BOARD), reason="virtual button and servo trace: simulated board")
HUB_ADDRESS = "127.0.0.2"


@pytest.fixture
def hub(tmp_path):
    """`make hub HUB_ARGS="--bind 0.0.0.0 --port N --host-name feeder-hub.lan --host-name 127.0.0.2"` as a
    process, on a PKI of EC keys (made ahead, as a first `make hub` makes its own)."""
    pki = Pki(str(tmp_path / "pki"), key_type="ec").ensure()
    port = free_port()
    data = tmp_path / "hub"
    command = [sys.executable, "-m", "cloud.hub", "run", "--data-dir", str(data), "--pki", pki.dir,
               "--bind", "0.0.0.0", "--port", str(port),
               "--host-name", "feeder-hub.lan", "--host-name", HUB_ADDRESS]
    log = open(tmp_path / "hub.log", "w+")
    proc = subprocess.Popen(command, cwd=board.ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "Ctrl-C stops" in (tmp_path / "hub.log").read_text() or proc.poll() is not None,
                 30, "the hub to start")
        assert proc.poll() is None, (tmp_path / "hub.log").read_text()
        yield pki, port, str(data / "ledger.sqlite3")
    finally:
        end_process(proc)
        log.close()


def flash_for_hub(serial, pki, tmp_path, hub_address):
    """`make flash PORT=<serial> CONFIG=<filled-in example> HUB=<hub_address>`."""
    config = rig_config(1, button={"pin": 5})  # host and port are what HUB= says
    config["mqtt"]["host"] = "set-by-make-flash"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return board.main(["deploy", "--port", serial, "--config", str(path), "--certs", pki.dir,
                       "--hub", hub_address])


def test_a_board_flashed_for_the_hub_at_its_ip_verifies_it_and_a_press_feeds(sim_board, hub, tmp_path,
                                                                            capsys):
    serial, flash = sim_board
    pki, port, ledger_path = hub
    assert flash_for_hub(serial, pki, tmp_path, "%s:%d" % (HUB_ADDRESS, port)) == 0, capsys.readouterr().err
    with open(os.path.join(flash, "config.json")) as f:
        deployed = json.load(f)
    assert (deployed["mqtt"]["host"], deployed["mqtt"]["port"]) == (HUB_ADDRESS, port)

    device = Device(flash, pki, deployed, deployed=True).start()
    try:
        device.wait_up()
        press_button(flash, "SINGLE")
        wait_for(lambda: dispense_starts(device.trace()), 10, "the left bowl to be fed")

        def recorded():
            db = ledger_mod.connect(ledger_path, readonly=True)
            try:
                return [event["detail-type"] for _, event in ledger_mod.read(db)]
            finally:
                db.close()

        wait_for(lambda: "FeedRequested" in recorded(), 10, "the press in the hub's ledger")
        # The device checks the address: the same hub at a loopback address its certificate does not name
        # is refused by the device's own TLS check.
        device.kill()
        deployed["mqtt"]["host"] = "127.0.0.3"
        device.configure(deployed)
        device.start()
        failed = device.expect("app: connect failed")
        assert "tls:" in failed and "does not match" in failed, failed
    finally:
        device.kill()

    # The host name the certificate names is provisioned too; one it does not name is refused in one line.
    assert flash_for_hub(serial, pki, tmp_path, "feeder-hub.lan:%d" % port) == 0
    capsys.readouterr()
    assert flash_for_hub(serial, pki, tmp_path, "192.168.1.20:%d" % port) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("board: the hub's broker certificate (%s) does not name 192.168.1.20"
                           % pki.cert("broker"))
