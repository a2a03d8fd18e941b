"""Power cuts on LittleFS (MicroPython's VfsLfs2, as on the ESP32) at every flash program and erase
of an update (staging, scheduling, the trial's counted boot, its confirmation) and of a rollback:
after each, the sets the state names are whole and signed, and the next boots end in the expected
set (tests/firmware/test_power_loss_littlefs.py's harness; its own file for a fresh 64K heap).
MicroPython only: skipped under CPython."""

# The harness first: compiled from source, it needs the most contiguous heap.
from test_power_loss_littlefs import every_cut, vfs  # noqa: I001

import otaboot
import otastage
import otaverify
from fwtest import skip_unless
from otarig import MODULUS, flashed, stage_release

MAX = otaboot.MAX_TRIAL_BOOTS


def surfacing_cuts(line):
    """select's log. select never raises (boot.py must return): it logs what it caught and runs the
    base set. Here that line raises again, so that the harness sees the cut as one."""
    if line.startswith("ota: running the base set ("):
        raise OSError(5, line)


def boot(root):
    """boot.py's selection: the set chosen."""
    return otaboot.select(root, [""], lambda timeout: None, surfacing_cuts)


def intact(root):
    """Every set the state names is whole and signed, and the set a boot selects is one of them."""
    state = otaboot.read_state(root)
    for slot in state[:2]:
        if slot != otaboot.BASE:
            directory = otaboot.slot_dir(root, slot)
            otaverify.check_signature(directory, MODULUS, bytearray(otaverify.CHUNK))
            otaverify.check_files(directory)
    chosen = boot(root)
    assert chosen in state[:2], (chosen, state)
    return state


def test_a_power_cut_at_every_flash_operation_of_an_update_leaves_a_complete_set_on_littlefs():
    skip_unless(vfs is not None, "LittleFS is MicroPython's")

    def prepare(root, reopen=False):
        if not reopen:
            flashed(root)
        return root

    def update(root):
        """Stage, schedule, the trial's first boot, its confirmation."""
        stage_release(root)
        otastage.finish(root, MODULUS)
        boot(root)
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

    assert every_cut(prepare, update, check) >= 20  # 49 flash operations when written


def test_a_power_cut_at_every_flash_operation_of_a_rollback_leaves_a_complete_set_on_littlefs():
    skip_unless(vfs is not None, "LittleFS is MicroPython's")

    def prepare(root, reopen=False):
        if not reopen:
            flashed(root)
            stage_release(root)
            otastage.finish(root, MODULUS)
            for _ in range(MAX):
                boot(root)
        return root

    def rollback(root):
        assert boot(root) == otaboot.BASE

    def check(root, completed):
        state = intact(root)  # the cut boot's next boot rolls back, if the cut one did not
        assert intact(root) == ["-", "-", 0, "a"], state

    assert every_cut(prepare, rollback, check) >= 2
