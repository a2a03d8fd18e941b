"""journal.py: ids survive reboots, unfinished ids are reported, pruning and the full-journal refusal."""

import os

import smallfiles
from fwtest import raises, remove_tree, tmpdir
from journal import Journal, JournalFull

NOW = 1795730000
HORIZON = 3600


def journal_files(directory):
    """Every file of the journal, as "<sub-directory>/<name>" (or "<name>" outside them), sorted."""
    root = directory + "/journal"
    files = []
    for entry in os.listdir(root):
        if os.stat(root + "/" + entry)[0] & 0x4000:  # a directory
            files.extend(entry + "/" + name for name in os.listdir(root + "/" + entry))
        else:
            files.append(entry)
    return sorted(files)


def press(i):
    return "press-%014x" % i


def test_begun_ids_are_seen_after_reboot_and_unfinished_ones_reported():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        journal.begin("press-a", NOW, 1)
        journal.finish("press-a")
        journal.begin("press-b", NOW, 3)  # power lost while dispensing
        assert journal.unfinished() == []  # only what was found at boot
        journal = Journal(directory, HORIZON)
        assert journal.seen("press-a") and journal.seen("press-b") and not journal.seen("press-c")
        assert journal.unfinished() == [("press-b", 3)]
        journal.finish("press-b")
        assert journal.unfinished() == []
        journal = Journal(directory, HORIZON)
        assert journal.unfinished() == [] and journal.seen("press-b")
    finally:
        remove_tree(directory)


def test_ids_at_the_64_character_limit():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        longest = "L" * 64
        journal.begin(longest, NOW, 2)
        raises(ValueError, journal.begin, "L" * 65, NOW, 1)
        raises(ValueError, journal.begin, "", NOW, 1)
        raises(ValueError, journal.begin, longest, NOW, 1)  # already begun
        raises(ValueError, journal.begin, "press-f", 1.5, 1)
        assert journal.entries == 1
        journal = Journal(directory, HORIZON)
        assert journal.seen(longest) and journal.unfinished() == [(longest, 2)]
    finally:
        remove_tree(directory)


def test_prune_forgets_only_finished_ids_older_than_the_horizon():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        for command_id, issued_at in (("old", NOW - HORIZON - 1), ("edge", NOW - HORIZON), ("new", NOW)):
            journal.begin(command_id, issued_at, 1)
            journal.finish(command_id)
        journal.begin("old-unfinished", NOW - HORIZON - 100, 1)
        journal = Journal(directory, HORIZON)
        journal.prune(NOW)
        assert not journal.seen("old")
        assert journal.seen("edge") and journal.seen("new")
        assert journal.seen("old-unfinished")  # its interrupted report is still due
        assert journal.unfinished() == [("old-unfinished", 1)]
    finally:
        remove_tree(directory)


def test_full_journal_refuses_begin_instead_of_forgetting_a_live_id():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON, max_entries=3)
        for i in range(3):
            journal.begin(press(i), NOW + i, 1)
            journal.finish(press(i))
        files = journal_files(directory)
        error = raises(JournalFull, journal.begin, press(3), NOW + 3, 1)
        assert isinstance(error, OSError) and error.errno == 28  # the feeder refuses on OSError
        assert not journal.seen(press(3)) and journal_files(directory) == files
        assert all(journal.seen(press(i)) for i in range(3))
        journal.prune(NOW + HORIZON + 1)  # press(0) ages out, the rest are still live
        assert not journal.seen(press(0)) and journal.seen(press(1))
        journal.begin(press(3), NOW + 3, 1)
        assert journal.seen(press(3))
    finally:
        remove_tree(directory)


def test_finish_of_an_unknown_or_finished_id_writes_nothing():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        journal.begin("press-a", NOW, 1)
        journal.finish("press-a")
        before = smallfiles.bytes_written, journal_files(directory)
        journal.finish("press-a")
        journal.finish("never-begun")
        assert (smallfiles.bytes_written, journal_files(directory)) == before
    finally:
        remove_tree(directory)


def test_memory_and_flash_stay_bounded_over_many_commands():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        step = 60  # one command a minute: 60 inside the horizon at any time
        biggest = 0
        for i in range(1500):
            now = NOW + i * step
            journal.prune(now)
            journal.begin(press(i), now, 1)
            journal.finish(press(i))
            biggest = max(biggest, len(journal_files(directory)))
        assert journal.entries == HORIZON // step + 1
        assert biggest == journal.entries  # one small file per slot in use, rewritten when reused
        journal = Journal(directory, HORIZON)
        now = NOW + 1499 * step
        assert all(journal.seen(press(i)) for i in range(1499 - HORIZON // step, 1500))
        journal.prune(now)
        assert journal.entries == HORIZON // step + 1
    finally:
        remove_tree(directory)


def test_an_unfinished_id_outlives_pruning_and_reboots_until_finished():
    directory = tmpdir()
    try:
        journal = Journal(directory, 10)
        journal.begin("press-crashed", NOW, 2)
        journal = Journal(directory, 10)
        assert journal.unfinished() == [("press-crashed", 2)]
        for i in range(300):  # more than the slots: every other slot is freed and reused meanwhile
            journal.prune(NOW + i)
            journal.begin(press(i), NOW + i, 1)
            journal.finish(press(i))
        journal.prune(NOW + 10 + 299)  # everything but the last id and the unfinished one ages out
        journal = Journal(directory, 10)
        journal.prune(NOW + 10 + 299)  # the forgotten ids' files stay until their slot is reused
        assert journal.entries == 2 and journal.seen(press(299)) and journal.seen("press-crashed")
        assert journal.unfinished() == [("press-crashed", 2)]
        journal.finish("press-crashed")
        journal = Journal(directory, 10)
        assert journal.unfinished() == [] and journal.seen("press-crashed")
    finally:
        remove_tree(directory)


def test_reused_slots_never_lose_a_remembered_id_across_reboots():
    directory = tmpdir()
    try:
        journal = Journal(directory, 10)
        for i in range(300):  # more begins than slots, so slots are reused
            journal.prune(NOW + i)
            journal.begin(press(i), NOW + i, 1)
            journal.finish(press(i))
        remembered = [press(i) for i in range(300) if journal.seen(press(i))]
        journal = Journal(directory, 10)
        assert all(journal.seen(command_id) for command_id in remembered)
        assert journal.entries <= 256
    finally:
        remove_tree(directory)


def test_bit_flipped_record_costs_only_that_record():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        for command_id in ("press-a", "press-b", "press-c"):
            journal.begin(command_id, NOW, 1)
            journal.finish(command_id)
        path = directory + "/journal/0/01"  # press-b's
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data[6] ^= 1
        with open(path, "wb") as f:
            f.write(data)
        journal = Journal(directory, HORIZON)
        assert journal.seen("press-a") and not journal.seen("press-b") and journal.seen("press-c")
        assert journal.corrupt_records == 1 and "01" not in os.listdir(directory + "/journal/0")
    finally:
        remove_tree(directory)


def test_hot_records_fit_inline_in_littlefs_metadata():
    # The whole point of the layout: a record at the longest id stays under LittleFS's inline limit.
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        journal.begin("L" * 64, NOW, 3)
        assert os.stat(directory + "/journal/0/00")[6] <= smallfiles.INLINE_MAX
    finally:
        remove_tree(directory)


def test_slots_are_spread_over_sixteen_directories_by_their_first_hex_digit():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        for i in range(18):
            journal.begin(press(i), NOW + i, 1)
        assert journal_files(directory) == ["0/%02x" % i for i in range(16)] + ["1/10", "1/11"]
        assert all(Journal(directory, HORIZON).seen(press(i)) for i in range(18))
    finally:
        remove_tree(directory)


def test_the_flat_layout_of_earlier_firmware_is_moved_into_the_directories():
    # Before the directories, every slot file sat in journal/ itself. A boot cut short while moving
    # them leaves some moved and some not (each move is one rename): the next boot finishes the job.
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        for i in range(18):
            journal.begin(press(i), NOW + i, 1)
            if i % 2:
                journal.finish(press(i))
        root = directory + "/journal"
        for name in ("00", "05", "10", "11"):  # moved back out: the flat layout, half undone
            os.rename(root + "/" + name[0] + "/" + name, root + "/" + name)
        with open(root + "/12.new", "wb") as f:
            f.write(b"torn")  # a write cut short under the flat layout
        with open(root + "/.hidden", "wb") as f:
            f.write(b"not ours")  # no directory can hold it: left where it is, and not read
        journal = Journal(directory, HORIZON)
        assert all(journal.seen(press(i)) for i in range(18)) and journal.corrupt_records == 0
        assert journal.unfinished() == [(press(i), 1) for i in range(0, 18, 2)]
        assert journal_files(directory) == [".hidden"] + ["0/%02x" % i for i in range(16)] + ["1/10", "1/11"]
        assert Journal(directory, HORIZON).seen(press(17))  # and the next boot reads past it too
    finally:
        remove_tree(directory)
