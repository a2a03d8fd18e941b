"""reports.py: status and telemetry render exactly as docs/protocol.md shows, and importing the module
for every message (as the App does, through bootonly.call) leaves nothing behind in the heap."""

import gc
import os
import sys

import bootonly
import reports
from fwtest import remove_tree, tmpdir


def test_status_messages():
    assert reports.status_message("cat-feeder", "online", 1795730000) == (
        b'{"v": 1, "type": "status", "thing": "cat-feeder", "status": "online", "at": 1795730000}'
    )
    assert reports.status_message("cat-feeder", "offline") == (
        b'{"v": 1, "type": "status", "thing": "cat-feeder", "status": "offline"}'
    )


class LinkState:
    connect_failures = 3
    last_error = 'tls: handshake failed (ValueError("certificate verify failed"))'


class CapState:
    portions_hour = (1, 0)
    portions_day = (3, 2)
    per_hour = 4
    per_day = 12


def test_telemetry_message():
    assert reports.telemetry_message("cat-feeder", 86400, 81234, 0, 0, 1795730000, LinkState, CapState) == (
        b'{"v": 1, "type": "telemetry", "thing": "cat-feeder", "uptime_s": 86400, "heap_free": 81234, '
        b'"outbox_depth": 0, "dropped": 0, "connect_failures": 3, '
        b'"last_error": "tls: handshake failed (ValueError(\\"certificate verify failed\\"))", '
        b'"portions_hour": {"left": 1, "right": 0}, "portions_day": {"left": 3, "right": 2}, '
        b'"max_portions_per_hour": 4, "max_portions_per_day": 12, "firmware": null, "at": 1795730000}'
    )
    LinkState.last_error = None
    assert b'"last_error": null' in reports.telemetry_message("t", 0, 0, 0, 0, 0, LinkState, CapState)


def test_telemetry_names_the_release_an_update_runs():
    root = tmpdir()
    try:
        os.mkdir(root + "/ota")
        os.mkdir(root + "/ota/a")
        with open(root + "/ota/a/manifest.txt", "w") as f:
            f.write("cat-feeder release 1\nversion 1.5.0\ndowngrade 0\n")
        with open(root + "/ota/state", "w") as f:
            f.write("a - 0 -\n")  # slot a confirmed: the current set (otaboot.py)
        message = reports.telemetry_message("t", 0, 0, 0, 0, 0, LinkState, CapState, root)
        assert b'"firmware": "1.5.0", "at": 0}' in message
    finally:
        remove_tree(root)


def test_telemetry_names_the_release_make_flash_wrote_from_the_first_boot():
    root = tmpdir()
    try:
        with open(root + "/manifest.txt", "w") as f:  # make flash RELEASE=1.5.0: no update, no ota/ yet
            f.write("cat-feeder release 1\nversion 1.5.0\ndowngrade 0\n")
        message = reports.telemetry_message("t", 0, 0, 0, 0, 0, LinkState, CapState, root)
        assert b'"firmware": "1.5.0", "at": 0}' in message
    finally:
        remove_tree(root)


def test_a_message_per_import_leaves_nothing_behind():
    del sys.modules["reports"]  # as on the device: not loaded between messages

    def one_round(at):
        bootonly.call("reports", "status_message", "cat-feeder", "online", at)
        return bootonly.call("reports", "telemetry_message", "t", at, 0, 0, 0, at, LinkState, CapState)

    one_round(0)  # the first import interns the module's names for good
    gc.collect()
    settled = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    # The heap is MicroPython's to measure; CPython only checks the messages (each of its full
    # collections in bootonly.call walks pytest's whole heap: 200 rounds took 50 s).
    rounds = 200 if hasattr(gc, "mem_alloc") else 3
    for at in range(1, rounds):
        assert b'"at": %d}' % at in one_round(at)
    gc.collect()
    assert "reports" not in sys.modules
    if hasattr(gc, "mem_alloc"):  # MicroPython: the heap in use has not grown over 199 more rounds
        assert gc.mem_alloc() <= settled, (settled, gc.mem_alloc())
