"""A stand-in for the board's USB serial port: MicroPython's unix port behind a pty.

mpremote talks to a serial device path, so the interpreter runs on one pty and the
path handed to mpremote is the slave of a second pty; this process copies bytes
between the two masters. MicroPython's unix port exits on a soft reset (Ctrl-D),
where a board reboots: we then print what a board prints ("soft reboot") and start
a fresh interpreter in the same flash folder, back in the raw REPL if that is
where the host left it. That is enough for mpremote's `fs cp`, `exec`, `run` and
`repl`, so the deploy tool is exercised for real without hardware.

    python -m tools.sim_board --flash .flash/sim [--link /tmp/ttyFEEDER]
prints the serial device path on its first line and serves until killed.

The virtual button: the firmware on the unix port reads its button's level from the file
`button.level` in the flash folder (config `sim.button`; sim_button.SimButton), "0" while held.

    python -m tools.sim_board --flash .flash/sim --press SINGLE|DOUBLE|LONG
holds it as a finger would (SINGLE: 150 ms; DOUBLE: 120 ms, 150 ms apart; LONG: 1.5 s), and
`press_button(flash_dir, event)` does the same from a test.
"""

import argparse
import os
import pty
import select
import subprocess
import sys
import time
import tty

from tools.device import BUTTON_LEVEL, FLASH_PATH

RAW_REPL_ENTER = 0x01
RAW_REPL_EXIT = 0x02
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
# (held, then released) in seconds for each gesture, as a finger makes them.
GESTURES = {"SINGLE": ((0.15, 0),), "DOUBLE": ((0.12, 0.15), (0.12, 0)), "LONG": ((1.5, 0),)}


def set_button(flash_dir, held):
    """Hold (True) or release the virtual button; the file is replaced whole, so a read never sees half."""
    path = os.path.join(flash_dir, BUTTON_LEVEL)
    with open(path + ".tmp", "w") as handle:
        handle.write("0" if held else "1")
    os.replace(path + ".tmp", path)


def press_button(flash_dir, event):
    """Make a SINGLE, DOUBLE or LONG press on the virtual button; returns the time.monotonic() of each
    press and release edge (the device's servo trace uses the same clock)."""
    edges = []
    for held_s, gap_s in GESTURES[event]:
        edges.append(time.monotonic())
        set_button(flash_dir, True)
        time.sleep(held_s)
        edges.append(time.monotonic())
        set_button(flash_dir, False)
        time.sleep(gap_s)
    return edges


class SimBoard:
    def __init__(self, flash_dir, micropython=MICROPYTHON):
        self.flash_dir = flash_dir
        self.micropython = micropython
        self.env = dict(os.environ, MICROPYPATH=FLASH_PATH)
        self.host_master, host_slave = pty.openpty()
        tty.setraw(host_slave)
        self.device_path = os.ttyname(host_slave)
        self._host_slave = host_slave  # kept open so the path stays valid between clients
        self.raw_mode = False
        self.child = None
        self.child_master = None

    def _start_child(self):
        master, slave = pty.openpty()
        # No echo and no \n -> \r\n translation: the interpreter writes \r\n itself, as a board does.
        tty.setraw(slave)
        self.child = subprocess.Popen(
            [self.micropython], stdin=slave, stdout=slave, stderr=slave,
            cwd=self.flash_dir, env=self.env, close_fds=True,
        )
        os.close(slave)
        self.child_master = master
        if self.raw_mode:
            os.write(master, bytes([RAW_REPL_ENTER]))

    def _reboot(self):
        os.close(self.child_master)
        self.child.wait()
        os.write(self.host_master, b"soft reboot\r\n")
        self._start_child()

    def serve(self):
        os.makedirs(self.flash_dir, exist_ok=True)
        self._start_child()
        while True:
            ready, _, _ = select.select([self.host_master, self.child_master], [], [], 0.5)
            if self.host_master in ready:
                data = os.read(self.host_master, 4096)
                self._track_mode(data)
                os.write(self.child_master, data)
            if self.child_master in ready or self.child.poll() is not None:
                try:
                    data = os.read(self.child_master, 4096)
                except OSError:  # EIO: the interpreter exited (soft reset)
                    data = b""
                if data:
                    os.write(self.host_master, data)
                elif self.child.poll() is not None:
                    self._reboot()

    def _track_mode(self, data):
        for byte in data:
            if byte == RAW_REPL_ENTER:
                self.raw_mode = True
            elif byte == RAW_REPL_EXIT:
                self.raw_mode = False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flash", default=".flash/sim", help="folder that acts as the board's flash")
    parser.add_argument("--link", help="also expose the serial device under this symlink")
    parser.add_argument("--press", choices=sorted(GESTURES), help="press the virtual button of the board "
                        "serving --flash, then exit")
    args = parser.parse_args()
    if args.press:
        press_button(os.path.abspath(args.flash), args.press)
        return
    board = SimBoard(os.path.abspath(args.flash))
    if args.link:
        if os.path.lexists(args.link):
            os.remove(args.link)
        os.symlink(board.device_path, args.link)
    print(board.device_path, flush=True)
    board.serve()


if __name__ == "__main__":
    main()
