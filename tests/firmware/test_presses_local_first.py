"""presses.py on a feeder: a press feeds at once through the real Feeder and Journal, and the cloud's
command for the same press id, when it comes, is a `duplicate` that moves nothing."""

import press
from feederrig import Rig
from pressrig import click, presses_for, sent_presses, taken_results


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
