"""The board under test: tools.sim_board (MicroPython's unix port behind a pty) by default, or a real
XIAO ESP32C3 at BOARD_PORT (with the HIL loopback wire of hardware/README.md)."""

import os
import subprocess
import sys

import pytest

from tools import board

REAL_BOARD = os.environ.get("BOARD_PORT")


@pytest.fixture
def sim_board(tmp_path):
    """(serial port, flash folder) of a fresh simulated board."""
    flash = tmp_path / "flash"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.sim_board", "--flash", str(flash)],
        stdout=subprocess.PIPE, text=True, cwd=board.ROOT,
    )
    try:
        yield proc.stdout.readline().strip(), str(flash)
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def port(request):
    if REAL_BOARD:
        return REAL_BOARD
    return request.getfixturevalue("sim_board")[0]
