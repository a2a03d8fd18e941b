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
"""

import argparse
import os
import pty
import select
import subprocess
import sys
import tty

from tools.device import FLASH_PATH

RAW_REPL_ENTER = 0x01
RAW_REPL_EXIT = 0x02
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


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
    args = parser.parse_args()
    board = SimBoard(os.path.abspath(args.flash))
    if args.link:
        if os.path.lexists(args.link):
            os.remove(args.link)
        os.symlink(board.device_path, args.link)
    print(board.device_path, flush=True)
    board.serve()


if __name__ == "__main__":
    main()
