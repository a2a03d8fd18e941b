"""One hub per data folder: an exclusive lock on `<data dir>/hub.lock`, held for the hub's life (and,
named otherwise, one simulated board per flash folder: tools/device.py).

Two hubs on one ledger would be two writers of every cursor and two broker configs in one folder, so
a second hub stops before touching any file. flock(2) is released by the kernel when the holder
exits, a SIGKILL and a power cut included, so a crashed hub never leaves a stale lock; the holder's
pid is written into the file for the message of the one that is refused.
"""

import fcntl
import os

LOCK_FILE = "hub.lock"


def lock_path(data_dir, holder="hub"):
    return os.path.join(data_dir, LOCK_FILE if holder == "hub" else holder + ".lock")


class HubRunning(Exception):
    """Another process holds the folder; the message names it and says what to do."""


class DataDirLock:
    def __init__(self, data_dir, holder="hub", advice="give this one its own --data-dir"):
        self.data_dir, self.holder, self.advice = data_dir, holder, advice
        self.path = lock_path(data_dir, holder)
        self.fd = None

    def acquire(self):
        os.makedirs(self.data_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise HubRunning(
                "another %s (%s) is running on %s: stop it first (Ctrl-C in its terminal), or %s" % (
                    self.holder, "pid " + holder if holder.isdigit() else "pid unknown", self.data_dir,
                    self.advice)) from None
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())
        self.fd = fd
        return self

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor releases the flock
            self.fd = None


def held(data_dir, holder="hub"):
    """Whether a process holds the folder's lock now (a hub runs on it), without taking it."""
    try:
        fd = os.open(lock_path(data_dir, holder), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file: no hub ever ran there (unreadable: the caller cannot tell, says no)
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the shared lock when it was granted
    return False
