"""presses.py on a feeder without local_first: a press only queues, nothing moves. A file of its own
(as test_presses_local_bowls.py): each gets the whole 64K MicroPython heap."""

from feederrig import Rig
from pressrig import click, presses_for, sent_presses, taken_results


def test_without_local_first_a_press_only_queues():
    rig = Rig()
    try:
        presses = presses_for(rig.hal, rig.directory, rig.feeder, local_first=False)
        assert click(presses, rig.hal, 100) == ["SINGLE"]
        assert rig.pins_moved() == [] and taken_results(rig) == []
        assert [m["event"] for _, m, _ in sent_presses(presses)] == ["SINGLE"]
    finally:
        rig.close()
