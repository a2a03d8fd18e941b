"""The board twin (tests/board_twin/, board_twin.py says what it is) for the tests of the board-only
modules: importing this puts the twin's stand-ins of the ESP32 port's modules (machine, network,
ntptime, flashbdev) first on the path, so the firmware imports them as it imports the board's.

Those tests run on MicroPython only: the board modules use time.ticks_ms/sleep_ms, machine and
LittleFS (vfs), which CPython has not; under pytest the importing test module is skipped."""

import sys

if sys.implementation.name != "micropython":
    import pytest

    pytest.skip("the board twin runs the board modules on MicroPython's unix port (tools/test_mpy.sh)",
                allow_module_level=True)



def _twin_folder():
    """The twin compiled by tools/compile_firmware.sh (<build>/board_twin, beside the firmware on
    MICROPYPATH): its source compiled here would not fit in the 64K heap with the test."""
    import os

    for entry in sys.path:
        try:
            os.stat(entry + "/board_twin/board_twin.mpy")
            return entry + "/board_twin"
        except OSError:
            pass
    return (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../board_twin"


sys.path.insert(0, _twin_folder())

import board_twin  # noqa: E402

VERSIONS = board_twin.VERSIONS
# Modules that read the twin at import (flashbdev binds bdev) or import vfs, which a test may swap.
_REIMPORTED = ("flashbdev", "boot", "flashfs")


def use(version, clock=None):
    """A fresh board on MicroPython `version` (see board_twin.use), the board modules unloaded."""
    board_twin.use(version, clock)
    for name in _REIMPORTED:
        sys.modules.pop(name, None)
    return board_twin


def with_board_vfs(test, *args):
    """Run test(*args) with the twin's vfs (twin_vfs.py) as `vfs`, and the unix port's back after."""
    import twin_vfs
    import vfs as unix_vfs

    sys.modules["vfs"] = twin_vfs
    try:
        return test(*args)
    finally:
        sys.modules["vfs"] = unix_vfs
        del twin_vfs.fail_mounts[:]
