"""Hub crash safety: the hub (python -m cloud.hub run) SIGKILLed at random points while presses stream
in, then restarted. Every press the broker acknowledged is in the ledger exactly once, the chain
verifies, and every ledger event reached each matching rule's target at least once (feeds: a command
on the action topic; history: a row in the projection)."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from cloud.handlers import button
from cloud.hub import ledger as ledger_mod
from cloud.topology import THING, action_topic
from tests.integration.conftest import ROOT

KILLS = 8
BUTTON = "cat-feeder/cat-feeder/button"


def start_hub(pki, port, data_dir):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloud.hub",
            "run",
            "--broker-port",
            str(port),
            "--data-dir",
            data_dir,
            "--pki",
            pki.dir,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(data_dir, "hub.log"), "ab"),
    )


def wait_for_log(data_dir, text, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with open(os.path.join(data_dir, "hub.log"), errors="replace") as log:
            if text in log.read():
                return
        time.sleep(0.05)
    raise AssertionError("the hub did not log %r" % text)


def test_sigkilled_hub_loses_no_acknowledged_press_and_delivers_every_event(pki, broker, mqtt, tmp_path):
    data_dir = str(tmp_path / "hub")
    os.makedirs(data_dir)
    watcher = mqtt("device", client_id="command-watcher", clean_session=False)
    assert watcher.subscribe(action_topic(THING), 1) == 1
    presser = mqtt("device", client_id="presser")
    acked, stop = [], threading.Event()

    def press_stream():
        seq = 0
        while not stop.is_set():
            seq += 1
            message = {"v": 1, "event": "SINGLE", "at": int(time.time()), "seq": seq}
            presser.publish(BUTTON, json.dumps(message), 1)  # returns after the broker's PUBACK
            acked.append(button.parse_press(dict(message, thing="cat-feeder"))["press_id"])
            time.sleep(0.01)

    # The first run creates the hub's persistent session: from then on the broker keeps presses for it.
    hub = start_hub(pki, broker.port, data_dir)
    wait_for_log(data_dir, "subscribed to")
    streamer = threading.Thread(target=press_stream)
    streamer.start()
    rng = random.Random(8)
    try:
        for kill in range(KILLS):
            if kill:
                hub = start_hub(pki, broker.port, data_dir)
            time.sleep(rng.uniform(0.4, 1.2))  # start-up takes ~0.3 s: some kills land before it is up
            hub.send_signal(signal.SIGKILL)
            hub.wait()
    finally:
        stop.set()
        streamer.join()
    hub = start_hub(pki, broker.port, data_dir)
    ledger_path = os.path.join(data_dir, "ledger.sqlite3")
    try:
        deadline = time.monotonic() + 30
        while True:
            db = ledger_mod.connect(ledger_path, readonly=True)
            pressed = [e["detail"]["press_id"] for _, e in ledger_mod.read(db)]
            cursors = dict(db.execute("SELECT rule, seq FROM cursors"))
            (last,) = db.execute("SELECT MAX(seq) FROM events").fetchone()
            db.close()
            if set(acked) <= set(pressed) and all(cursors.get(r) == last for r in ("feeds", "history")):
                break
            assert time.monotonic() < deadline, "%d of %d presses in the ledger" % (len(pressed), len(acked))
            time.sleep(0.2)
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(20)
    assert len(acked) > 100
    assert sorted(pressed) == sorted(set(pressed)) and set(pressed) == set(acked)
    assert ledger_mod.verify(ledger_mod.connect(ledger_path, readonly=True)) == (len(pressed), [])
    commands = set()
    while (message := watcher.receive(1.0)) is not None:
        commands.add(json.loads(message[1])["id"])
    assert commands == set(acked)
    history = sqlite3.connect(os.path.join(data_dir, "history.sqlite3"))
    rows = {key for (key,) in history.execute("SELECT key FROM items")}
    assert rows == {"press#" + press_id for press_id in acked}
