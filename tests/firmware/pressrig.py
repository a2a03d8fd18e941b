"""Helpers for the presses tests: drive a Presses as the main loop does, on the sim HAL's virtual clock."""

import gc
import json

from presses import Presses

SETTINGS = {"pin": 5, "debounce_ms": 30, "double_ms": 400, "long_ms": 1000, "local_first": True}


def presses_for(hal, directory, feeder=None, local_first=True, room=None):
    settings = dict(SETTINGS, local_first=local_first)
    return Presses(settings, "cat-feeder", hal, directory, 16, feeder, log=lambda *args: None, room=room)


def run_for(presses, hal, ms):
    """The main loop's part: service the button, then wait as long as it allows; the gestures found."""
    found = []
    end = hal.ticks_ms() + ms
    while hal.ticks_ms() < end:
        gesture = presses.service(hal.ticks_ms())
        if gesture is not None:
            found.append(gesture)
        hal.sleep_ms(max(1, presses.wait_ms(hal.ticks_ms())))
    return found


def click(presses, hal, held_ms, then_ms=600):
    """Hold the button held_ms, release it, let then_ms pass; the gestures found."""
    presses.pin.set(0)
    found = run_for(presses, hal, held_ms)
    presses.pin.set(1)
    return found + run_for(presses, hal, then_ms)


def sent_presses(presses):
    """What drain() sends now, as (topic, decoded message, qos); pids are 1, 2, ..."""
    sent = []
    presses.drain(lambda topic, payload, qos: sent.append((topic, json.loads(payload), qos)) or len(sent))
    return sent


def taken_results(rig):
    """The queued results as the cloud sees them, acknowledged (the 64K test heap keeps no backlog)."""
    gc.collect()
    taken = rig.results()
    for result in taken:
        rig.outbox.ack(result["seq"])
    return taken
