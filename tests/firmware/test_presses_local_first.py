"""presses.py on a feeder: a press feeds at once through the real Feeder and Journal, and the cloud's
command for the same press id, when it comes, is a `duplicate` that moves nothing."""

import gc

import press
from feederrig import Rig
from pressrig import click, presses_for, sent_presses


def taken_results(rig):
    """The queued results as the cloud sees them, acknowledged (the 64K test heap keeps no backlog)."""
    gc.collect()
    taken = rig.results()
    for result in taken:
        rig.outbox.ack(result["seq"])
    return taken


def test_a_local_first_single_feeds_at_once_and_the_clouds_command_is_a_duplicate():
    rig = Rig()
    try:
        presses = presses_for(rig.hal, rig.directory, rig.feeder)
        assert click(presses, rig.hal, 120) == ["SINGLE"]
        assert set(rig.pins_moved()) == {3}  # the left bowl, with no network at all
        ((_, message, _),) = sent_presses(presses)
        press_id = press.press_id("cat-feeder", "SINGLE", message["at"], message["seq"])
        (result,) = taken_results(rig)
        assert (result["id"], result["status"], result["bowls"]) == (press_id, "dispensed", ["left"])

        moved = len(rig.pins_moved())
        rig.feeder.handle(press.command(press_id, "SINGLE", message["at"]))  # the cloud's command
        assert [r["status"] for r in taken_results(rig)] == ["duplicate"] and len(rig.pins_moved()) == moved
    finally:
        rig.close()


def test_double_and_long_feed_their_bowls():
    rig = Rig()
    try:
        presses = presses_for(rig.hal, rig.directory, rig.feeder)
        assert click(presses, rig.hal, 100, then_ms=150) + click(presses, rig.hal, 100) == ["DOUBLE"]
        assert [r["bowls"] for r in taken_results(rig)] == [["right"]]
        assert click(presses, rig.hal, 1500) == ["LONG"]
        assert [r["bowls"] for r in taken_results(rig)] == [["left", "right"]]
    finally:
        rig.close()


def test_without_local_first_a_press_only_queues():
    rig = Rig()
    try:
        presses = presses_for(rig.hal, rig.directory, rig.feeder, local_first=False)
        assert click(presses, rig.hal, 100) == ["SINGLE"]
        assert rig.pins_moved() == [] and taken_results(rig) == []
        assert [m["event"] for _, m, _ in sent_presses(presses)] == ["SINGLE"]
    finally:
        rig.close()

