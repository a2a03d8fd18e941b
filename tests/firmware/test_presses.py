"""presses.py: the feeder's own button end to end in one process: pin, classifier, flash queue,
local-first feeding through the real Feeder and Journal, and the cloud's command answered `duplicate`."""

import json

import hal_sim
import press
from feederrig import NOW, Rig
from fwtest import remove_tree, tmpdir
from presses import Presses

SETTINGS = {"pin": 5, "debounce_ms": 30, "double_ms": 400, "long_ms": 1000, "local_first": True}


def presses_on(rig, local_first=True, with_feeder=True):
    settings = dict(SETTINGS, local_first=local_first)
    return Presses(settings, "cat-feeder", rig.hal, rig.directory, 16, rig.feeder if with_feeder else None,
                   log=lambda *args: None)


def run_for(presses, hal, ms):
    """The main loop's part: service the button, then wait as long as it allows."""
    found = []
    end = hal.ticks_ms() + ms
    while hal.ticks_ms() < end:
        gesture = presses.service(hal.ticks_ms())
        if gesture is not None:
            found.append(gesture)
        hal.sleep_ms(max(1, presses.wait_ms(hal.ticks_ms())))
    return found


def click(presses, hal, held_ms):
    presses.pin.set(0)
    found = run_for(presses, hal, held_ms)
    presses.pin.set(1)
    return found


def sent_presses(presses):
    sent = []
    presses.drain(lambda topic, payload, qos: sent.append((topic, json.loads(payload), qos)) or len(sent))
    return sent


def test_a_local_first_single_feeds_at_once_and_the_clouds_command_is_a_duplicate():
    rig = Rig()
    try:
        presses = presses_on(rig)
        run_for(presses, rig.hal, 100)
        assert click(presses, rig.hal, 120) + run_for(presses, rig.hal, 600) == ["SINGLE"]
        assert set(rig.pins_moved()) == {3}  # the left bowl, with no network at all
        ((topic, message, qos),) = sent_presses(presses)
        assert (topic, qos) == ("cat-feeder/cat-feeder/button", 1)
        assert message == {"v": 1, "event": "SINGLE", "at": message["at"], "seq": 1}
        assert NOW <= message["at"] <= NOW + 2
        press_id = press.press_id("cat-feeder", "SINGLE", message["at"], 1)
        (result,) = rig.results()
        assert (result["id"], result["status"], result["bowls"]) == (press_id, "dispensed", ["left"])

        moved = len(rig.pins_moved())
        rig.feeder.handle(press.command(press_id, "SINGLE", message["at"]))  # the cloud's command
        assert rig.results()[-1]["status"] == "duplicate" and len(rig.pins_moved()) == moved
        presses.queue.close()
    finally:
        rig.close()


def test_double_and_long_feed_their_bowls():
    rig = Rig()
    try:
        presses = presses_on(rig)
        found = click(presses, rig.hal, 100) + run_for(presses, rig.hal, 150) + click(presses, rig.hal, 100)
        found += run_for(presses, rig.hal, 600) + click(presses, rig.hal, 1500)
        found += run_for(presses, rig.hal, 600)
        assert found == ["DOUBLE", "LONG"]
        assert [r["bowls"] for r in rig.results()] == [["right"], ["left", "right"]]
        assert [m["seq"] for _, m, _ in sent_presses(presses)] == [1, 2]
        presses.queue.close()
    finally:
        rig.close()


def only_queues(local_first, with_feeder):
    rig = Rig()
    try:
        presses = presses_on(rig, local_first, with_feeder)
        click(presses, rig.hal, 100)
        run_for(presses, rig.hal, 600)
        assert rig.pins_moved() == [] and rig.results() == []
        assert [m["event"] for _, m, _ in sent_presses(presses)] == ["SINGLE"]
        presses.queue.close()
    finally:
        rig.close()


def test_without_local_first_a_press_only_queues():
    only_queues(local_first=False, with_feeder=True)


def test_on_a_button_board_a_press_only_queues():
    only_queues(local_first=True, with_feeder=False)


def test_a_press_leaves_the_queue_only_on_its_puback_and_survives_a_reboot():
    # A button board: no feeder, so no journal or outbox of results, only the press queue.
    hal, directory = hal_sim.HAL(start_unix=NOW), tmpdir()
    try:
        presses = Presses(SETTINGS, "cat-feeder", hal, directory, 16, log=lambda *args: None)
        for _ in range(2):
            click(presses, hal, 100)
            run_for(presses, hal, 600)
        assert [m["seq"] for _, m, _ in sent_presses(presses)] == [1, 2]
        assert sent_presses(presses) == []  # both in flight: not sent twice
        assert presses.acked(1) and not presses.acked(99)
        presses.disconnected()  # the link dropped before the second PUBACK
        assert [m["seq"] for _, m, _ in sent_presses(presses)] == [2]
        presses.queue.close()

        rebooted = Presses(SETTINGS, "cat-feeder", hal, directory, 16, log=lambda *args: None)
        assert [m["seq"] for _, m, _ in sent_presses(rebooted)] == [2]  # still unacknowledged
        click(rebooted, hal, 100)
        run_for(rebooted, hal, 600)
        assert [m["seq"] for _, m, _ in sent_presses(rebooted)] == [3]  # seqs never repeat
        rebooted.queue.close()
    finally:
        remove_tree(directory)
