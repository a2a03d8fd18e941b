"""Definitions the cloud shares with the firmware, tied where they cannot be imported from one place."""

import json
import os
import subprocess

from cloud import topology
from cloud.handlers import projector
from firmware.press import EVENTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
# The firmware's own tables, read on MicroPython: command.EVENTS (bowl masks), messages.BOWLS_JSON.
FIRMWARE_BOWLS = """
import sys
sys.path.insert(0, 'firmware')
import command, messages, json
print(json.dumps({e: json.loads(messages.BOWLS_JSON[m]) for e, m in command.EVENTS.items()}))
"""


def test_the_projector_feeds_the_bowls_the_firmware_feeds_for_each_event():
    done = subprocess.run([MICROPYTHON, "-c", FIRMWARE_BOWLS], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    firmware = json.loads(done.stdout)
    assert {event: list(bowls) for event, bowls in projector.BOWLS.items()} == firmware
    assert set(EVENTS) == set(firmware)


def test_the_projector_folds_every_update_event_the_ledger_names():
    names = {topology.UPDATE_OFFERED, topology.UPDATE_STARTED, topology.UPDATE_SUCCEEDED,
             topology.UPDATE_ROLLED_BACK, topology.UPDATE_FAILED}
    assert set(projector.UPDATE_PHASES) == names
    assert set(projector.UPDATE_OUTCOMES) == {name for name, phase in projector.UPDATE_PHASES.items()
                                              if phase == "ended"}
