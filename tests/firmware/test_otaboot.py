"""otaboot.py and otastage.py: a verified release staged into the free slot becomes the next boot's
trial; it becomes the current set once confirmed (connected and subscribed), and a set that never
is, because its code raises at import, rolls back to the previous set within MAX_TRIAL_BOOTS
boots. On CPython and MicroPython (64K heap); the power cuts on LittleFS are MicroPython's.

Each boot is what boot.py does on the board: otaboot.select with the board's path, then the
firmware imported from that path (here a stand-in `otaapp` module in each set, which says which set
it is, or raises).
"""

import os

import otaboot
import otastage
import otaverify
from fwtest import raises, remove_tree, tmpdir
from otarig import MODULUS, VECTORS, Board, flashed, stage_release, write

MAX = otaboot.MAX_TRIAL_BOOTS


def test_without_an_update_the_base_set_runs_and_no_watchdog_is_started_early():
    root = tmpdir()
    try:
        flashed(root)
        board = Board(root)
        assert board.boot() == (otaboot.BASE, "base")
        assert board.watchdogs == [] and board.lines == []
    finally:
        remove_tree(root)


def test_a_staged_release_is_tried_then_confirmed_and_kept():
    root = tmpdir()
    try:
        flashed(root)
        directory = stage_release(root)
        assert directory == otaboot.slot_dir(root, "a")
        write(directory + "/otaapp.py", b"SET = 'a'\n")  # not in the manifest: the set's code stand-in
        assert otastage.finish(root, MODULUS) == "a"
        board = Board(root)
        assert board.boot() == ("a", "a")
        assert board.watchdogs == [otaboot.TRIAL_WATCHDOG_MS]
        assert board.lines == ["ota: trying a, boot 1 of %d" % MAX]
        assert otaboot.on_trial(root) == "a"
        assert otaboot.confirm(root) == "a" and otaboot.confirm(root) is None
        assert otaboot.on_trial(root) is None
        for _ in range(MAX + 1):  # confirmed: no longer a trial, no count, no early watchdog
            assert board.boot() == ("a", "a")
        assert board.watchdogs == [otaboot.TRIAL_WATCHDOG_MS]
        assert otaboot.read_state(root) == ["a", "-", 0, "-"]
        assert otaboot.running_version(root) == (1, 2, 0)  # the next update must be newer than this
        # The next update goes into the other slot: the running one is never written.
        assert otastage.begin(root) == otaboot.slot_dir(root, "b")
    finally:
        remove_tree(root)


def test_a_release_whose_code_raises_at_boot_rolls_back_within_the_bound():
    root = tmpdir()
    try:
        flashed(root)
        directory = stage_release(root)
        write(directory + "/otaapp.py", b"raise ImportError('broken release')\n")
        otastage.finish(root, MODULUS)
        board = Board(root)
        for _ in range(MAX):
            raises(ImportError, board.boot)  # on the board: the REPL, then the watchdog's reset
        assert board.watchdogs == [otaboot.TRIAL_WATCHDOG_MS] * MAX
        assert board.boot() == (otaboot.BASE, "base")  # the set before it, which feeds
        assert board.lines[-1] == "ota: a did not connect in %d boots: back to -" % MAX
        assert otaboot.read_state(root) == ["-", "-", 0, "a"]  # the rollback, for the app to report
        assert board.boot() == (otaboot.BASE, "base")
        assert otaboot.confirm(root) is None
        assert otaboot.running_version(root) == (0, 0, 0)  # the base set's
    finally:
        remove_tree(root)


def test_a_refused_release_is_never_scheduled_and_one_trial_at_a_time():
    root = tmpdir()
    try:
        flashed(root)
        directory = stage_release(root)
        write(directory + "/main.py", b"tampered")
        assert str(raises(otaverify.Refused, otastage.finish, root, MODULUS)) == "hash mismatch: main.py"
        assert str(raises(otaverify.Refused, otastage.finish, root, MODULUS - 2)) == "bad signature"
        assert otaboot.read_state(root) == ["-", "-", 0, "-"]
        assert Board(root).boot() == (otaboot.BASE, "base")
        stage_release(root)
        otastage.finish(root, MODULUS)
        reason = str(raises(otaverify.Refused, otastage.begin, root))
        assert reason == "an update is on trial: one at a time"
        assert str(raises(otaverify.Refused, otastage.finish, root, MODULUS)) == reason
    finally:
        remove_tree(root)


def test_a_damaged_state_or_a_missing_set_boots_the_base_set():
    root = tmpdir()
    try:
        flashed(root)
        for junk in (b"", b"a b", b"a a 0 -", b"x - 0 -", b"a - -1 -", b"\xff\xfe"):
            otaboot.write_state(root, ["-", "-", 0, "-"])
            write(root + "/ota/state", junk)
            assert otaboot.read_state(root) == ["-", "-", 0, "-"], junk
            assert Board(root).boot() == (otaboot.BASE, "base")
        otaboot.write_state(root, ["b", "-", 0, "-"])  # a current set whose files are gone
        board = Board(root)
        assert board.boot() == (otaboot.BASE, "base")
        assert board.lines == ["ota: b has no manifest: running the base set"]
        assert otaboot.running_version(root) == (0, 0, 0)
        otaboot.write_state(root, ["-", "b", 0, "-"])  # the same on trial: nothing to confirm
        assert Board(root).boot() == (otaboot.BASE, "base") and otaboot.on_trial(root) is None
    finally:
        remove_tree(root)


def test_a_base_set_flashed_from_a_release_takes_only_a_newer_one():
    root = tmpdir()
    try:
        flashed(root, VECTORS["running"])  # make flash RELEASE=1.1.0
        running = otaboot.running_version(root)
        assert running == (1, 1, 0)
        directory = otastage.begin(root)
        free = (4096, 4096, 512, 400, 400)
        signed = " (a downgrade must be signed as one)"
        for case, verdict in (("older", "not newer: 1.0.9, running 1.1.0" + signed),
                              ("same", "not newer: 1.1.0, running 1.1.0" + signed),
                              ("newer", None), ("downgrade", None)):
            release = VECTORS["releases"][case]
            write(directory + "/" + otaverify.MANIFEST, release["manifest"].encode())
            write(directory + "/" + otaverify.SIGNATURE, bytes.fromhex(release["signature"]))
            if verdict is None:
                otaverify.check_manifest(directory, MODULUS, running, free)
            else:
                refused = raises(otaverify.Refused, otaverify.check_manifest,
                                 directory, MODULUS, running, free)
                assert str(refused) == verdict, case
        assert Board(root).boot() == (otaboot.BASE, "base")
    finally:
        remove_tree(root)


def test_a_root_manifest_cut_short_or_damaged_reads_as_0_0_0_and_the_board_boots():
    root = tmpdir()
    try:
        flashed(root, "1.5.0")
        assert otaboot.running_version(root) == (1, 5, 0)
        whole = "%s\nversion 1.5.0\ndowngrade 0\n" % otaverify.HEADER
        # A copy cut short before its version is whole, and other damage.
        cut = [whole[:n].encode() for n in range(whole.index("1.5.0") + 5)]
        damaged = [b"version 1.x.0\n", b"version 1.5\n", b"version 1.5.0.0\n", b"\xff\xfe\x00version"]
        for junk in cut + damaged:
            write(root + "/" + otaverify.MANIFEST, junk)
            assert otaboot.running_version(root) == (0, 0, 0), junk
            assert Board(root).boot() == (otaboot.BASE, "base")
        remove_tree(root + "/" + otaverify.MANIFEST)
        os.mkdir(root + "/" + otaverify.MANIFEST)  # not even a file
        assert otaboot.running_version(root) == (0, 0, 0)
        assert Board(root).boot() == (otaboot.BASE, "base")
    finally:
        remove_tree(root)


def test_a_trial_boot_whose_count_cannot_be_written_runs_the_base_set():
    root = tmpdir()
    try:
        flashed(root)
        stage_release(root)
        otastage.finish(root, MODULUS)
        remove_tree(root + "/ota/state")
        write(root + "/ota/state", b"- a 0 -\n")
        # The rename target is a directory: the write of the count fails as a full flash would.
        remove_tree(root + "/ota/state.new")
        __import__("os").mkdir(root + "/ota/state.new")
        board = Board(root)
        assert board.boot() == (otaboot.BASE, "base")
        assert board.watchdogs == [] and board.lines[0].startswith("ota: running the base set (")
    finally:
        remove_tree(root)


def test_on_the_board_the_root_is_the_working_directory_as_boot_py_passes_it():
    root = tmpdir()
    cwd = os.getcwd()
    try:
        flashed(root)
        directory = stage_release(root)
        write(directory + "/otaapp.py", b"SET = 'a'\n")
        otastage.finish(root, MODULUS)
        os.chdir(root)  # the board's working directory is its flash root (flashfs.py)
        board = Board(".")
        assert board.boot() == ("a", "a")
        assert board.path == ["./ota/a", "/lib"] and board.watchdogs == [otaboot.TRIAL_WATCHDOG_MS]
        assert otaboot.confirm(".") == "a"
        assert board.boot() == ("a", "a") and board.watchdogs == [otaboot.TRIAL_WATCHDOG_MS]
    finally:
        os.chdir(cwd)
        remove_tree(root)
