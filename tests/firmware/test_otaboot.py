"""otaboot.py and otastage.py: a verified release staged into the free slot becomes the next boot's
trial; it becomes the current set once confirmed (connected and subscribed), and a set that never
is, because its code raises at import, rolls back to the previous set within MAX_TRIAL_BOOTS
boots. On CPython and MicroPython (64K heap); the power cuts on LittleFS are MicroPython's.

Each boot is what boot.py does on the board: otaboot.select with the board's path, then the
firmware imported from that path (here a stand-in `otaapp` module in each set, which says which set
it is, or raises).
"""

import json
import sys

import otaboot
import otastage
import otaverify
from fwtest import raises, remove_tree, tmpdir

MAX = otaboot.MAX_TRIAL_BOOTS


def vectors():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(here + "/../vectors/ota_release.json") as f:
        return json.load(f)


VECTORS = vectors()
MODULUS = int(VECTORS["modulus"], 16)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def flashed(root):
    """The base set `make flash` writes at the root."""
    write(root + "/otaapp.py", b"SET = 'base'\n")


def stage_release(root, case="newer"):
    """What the transport will do: the release into the free slot, its manifest judged first."""
    directory = otastage.begin(root)
    release = VECTORS["releases"][case]
    write(directory + "/" + otaverify.MANIFEST, release["manifest"].encode())
    write(directory + "/" + otaverify.SIGNATURE, bytes.fromhex(release["signature"]))
    otaverify.check_manifest(directory, MODULUS, (1, 1, 0), (4096, 4096, 512, 400, 400))
    for name, text in VECTORS["files"].items():
        write(directory + "/" + name, text.encode())
    return directory


class Board:
    """Boots the flash at root as boot.py and main.py do: select, then import the chosen set."""

    def __init__(self, root):
        self.root = root
        self.watchdogs = []
        self.lines = []

    def start_watchdog(self, timeout):
        self.watchdogs.append(timeout)

    def boot(self, code=None):
        """One boot; code, when given, is written as the trial slot's otaapp first (its firmware)."""
        path = [self.root, "/lib"]
        chosen = otaboot.select(self.root, path, self.start_watchdog, self.lines.append)
        saved = sys.path[:]
        sys.path[:] = path
        try:
            sys.modules.pop("otaapp", None)
            return chosen, __import__("otaapp").SET
        finally:
            sys.path[:] = saved
            sys.modules.pop("otaapp", None)


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
        assert otaboot.confirm(root) is True and otaboot.confirm(root) is False
        for _ in range(MAX + 1):  # confirmed: no longer a trial, no count, no early watchdog
            assert board.boot() == ("a", "a")
        assert board.watchdogs == [otaboot.TRIAL_WATCHDOG_MS]
        assert otaboot.read_state(root) == ["a", "-", 0, "-"]
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
        assert otaboot.confirm(root) is False
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
    finally:
        remove_tree(root)


def intact(root):
    """Every set the state names is whole and signed, and the set a boot selects is one of them."""
    state = otaboot.read_state(root)
    for slot in state[:2]:
        if slot != otaboot.BASE:
            directory = otaboot.slot_dir(root, slot)
            otaverify.check_signature(directory, MODULUS, bytearray(otaverify.CHUNK))
            otaverify.check_files(directory)
    chosen = otaboot.select(root, [root], lambda timeout: None, lambda line: None)
    assert chosen in state[:2], (chosen, state)
    return state


def test_a_power_cut_at_every_flash_operation_of_an_update_leaves_a_complete_set_on_littlefs():
    from test_power_loss_littlefs import every_cut, skip_unless, vfs

    skip_unless(vfs is not None, "LittleFS is MicroPython's")

    def prepare(root, reopen=False):
        if not reopen:
            flashed(root)
        return root

    def update(root):
        """Stage, schedule, the trial's first boot, its confirmation."""
        stage_release(root)
        otastage.finish(root, MODULUS)
        otaboot.select(root, [root], lambda timeout: None, lambda line: None)
        otaboot.confirm(root)

    def check(root, completed):
        state = intact(root)
        if not completed:
            state = intact(root)  # and once more: a boot after the boot after the cut
            if state[1] == otaboot.BASE and state[0] == otaboot.BASE:
                update(root)  # the update is simply done again
            elif state[1] != otaboot.BASE:
                otaboot.confirm(root)  # the trial that was running connects
            state = intact(root)
        assert state == ["a", "-", 0, "-"], state

    assert every_cut(prepare, update, check) >= 10


def test_a_power_cut_at_every_flash_operation_of_a_rollback_leaves_a_complete_set_on_littlefs():
    from test_power_loss_littlefs import every_cut, skip_unless, vfs

    skip_unless(vfs is not None, "LittleFS is MicroPython's")

    def prepare(root, reopen=False):
        if not reopen:
            flashed(root)
            stage_release(root)
            otastage.finish(root, MODULUS)
            for _ in range(MAX):
                otaboot.select(root, [root], lambda timeout: None, lambda line: None)
        return root

    def rollback(root):
        assert otaboot.select(root, [root], lambda timeout: None, lambda line: None) == otaboot.BASE

    def check(root, completed):
        state = intact(root)  # the cut boot's next boot rolls back, if the cut one did not
        assert intact(root) == ["-", "-", 0, "a"], state

    assert every_cut(prepare, rollback, check) >= 1
