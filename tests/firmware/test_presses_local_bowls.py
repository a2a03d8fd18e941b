"""presses.py on a feeder: DOUBLE and LONG feed their bowls at once, through the real Feeder and
Journal. A file of its own (as test_presses_local_off.py): each gets the whole 64K MicroPython heap."""

from feederrig import Rig
from pressrig import click, presses_for, taken_results


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
