"""One hub per data folder (cloud/hub/lock.py), and a taken port said as such: `python -m cloud.hub run`
as `make hub` runs it. A refused start is one line naming the cause, and writes no file: not the running
hub's broker config, not a PKI."""

import os
import socket
import subprocess
import sys

import pytest

from cloud.hub.hub import Hub
from cloud.hub.lock import HubRunning
from cloud.hub.pki import Pki
from cloud.hub.processes import end_process, free_port
from rigs.device import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def hub_command(data_dir, pki_dir, port):
    return [sys.executable, "-m", "cloud.hub", "run", "--data-dir", str(data_dir), "--pki", str(pki_dir),
            "--port", str(port)]


def refused(command):
    """The exit status and the one stderr line of a start that must be refused."""
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return done.returncode, lines[0]


def snapshot(folder):
    """{relative path: (size, mtime_ns)} of every file under folder."""
    found = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            stat = os.stat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), folder)] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture
def running_hub(tmp_path):
    pki = Pki(str(tmp_path / "pki"), key_type="ec").ensure()
    data = tmp_path / "hub"
    log_path = tmp_path / "hub.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(hub_command(data, pki.dir, free_port()), cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "Ctrl-C stops" in log_path.read_text() or proc.poll() is not None, 30, "the hub")
        assert proc.poll() is None, log_path.read_text()
        yield proc, data
    finally:
        end_process(proc)


def test_a_second_hub_on_the_same_data_folder_names_the_first_and_touches_nothing(running_hub, tmp_path):
    first, data = running_hub
    before = snapshot(data)
    other_pki = tmp_path / "other-pki"
    status, line = refused(hub_command(data, other_pki, free_port()))  # another port: still refused
    assert status == 2
    assert line == ("hub: another hub (pid %d) is running on %s: stop it first (Ctrl-C in its terminal), "
                    "or give this one its own --data-dir" % (first.pid, data))
    assert snapshot(data) == before  # mosquitto.conf, the ledger, the lock's pid: as the first hub left them
    assert not other_pki.exists()
    assert first.poll() is None


def test_a_port_another_program_listens_on_is_said_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, line = refused(hub_command(tmp_path / "hub", tmp_path / "pki", port))
    assert status == 2
    assert line == ('hub: port %d on 127.0.0.1 is in use by another program (another hub, or a mosquitto of '
                    'the system?): stop it, or pass HUB_ARGS="--port N"' % port)
    assert not (tmp_path / "pki").exists() and not (tmp_path / "hub" / "broker").exists()


def test_in_process_a_second_hub_is_refused_until_the_first_stops(pki, broker, tmp_path):
    first = Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port).start()
    try:
        with pytest.raises(HubRunning, match="pid %d" % os.getpid()):
            Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port).start()
    finally:
        first.stop()
    Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port).start().stop()  # released on stop


def test_held_tells_whether_a_hub_runs_on_a_folder_without_taking_its_lock(tmp_path):
    from cloud.hub import lock

    assert not lock.held(str(tmp_path))  # no hub ever ran there
    running = lock.DataDirLock(str(tmp_path)).acquire()
    try:
        assert lock.held(str(tmp_path)) and lock.held(str(tmp_path))  # asking twice takes nothing
    finally:
        running.release()
    assert not lock.held(str(tmp_path))
