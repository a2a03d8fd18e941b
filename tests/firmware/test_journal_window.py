"""journal.py and the feeding cap: begin() makes room from aged entries; tally() counts per bowl.

(Apart from test_journal.py: one test file must compile within the 64K MicroPython heap.)"""

from array import array

from fwtest import raises, remove_tree, tmpdir
from journal import Journal, JournalFull

NOW = 1795730000
HORIZON = 3600


def press(i):
    return "press-%014x" % i


def test_begin_forgets_aged_entries_itself_when_full():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON, max_entries=2)
        for i in range(2):
            journal.begin(press(i), NOW + i, 1)
            journal.finish(press(i))
        # No prune() in between: begin() makes room from entries older than the horizon only.
        raises(JournalFull, journal.begin, press(2), NOW + HORIZON, 1)
        journal.begin(press(2), NOW + HORIZON + 1, 1)
        assert not journal.seen(press(0)) and journal.seen(press(1)) and journal.seen(press(2))
    finally:
        remove_tree(directory)


def test_tally_counts_dispenses_per_bowl_in_two_windows():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        for command_id, began_at, bowls in (("a", NOW - 5000, 1), ("b", NOW - 100, 3), ("c", NOW - 10, 2)):
            journal.begin(command_id, began_at, bowls)
        counts = array("H", [9, 9, 9, 9])
        journal.tally(NOW - 3600, NOW - 86400, counts)
        assert list(counts) == [1, 2, 2, 2]  # left: b (and a, in the long window); right: b, c
        journal.tally(NOW - 100, NOW - 101, counts)  # strictly after: b began at exactly NOW - 100
        assert list(counts) == [0, 1, 1, 2]
    finally:
        remove_tree(directory)
