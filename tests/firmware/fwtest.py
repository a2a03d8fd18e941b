"""Helpers shared by the firmware tests on CPython and MicroPython alike.

Only what both interpreters have: os, time, plain exceptions.
"""

import os


def tmpdir(base="/tmp"):
    """A fresh empty directory under base (MicroPython has no getpid, so a random name)."""
    path = base + "/fwtest-" + "".join("%02x" % b for b in os.urandom(8))
    os.mkdir(path)
    return path


def remove_tree(path):
    try:
        entries = os.listdir(path)
    except OSError:
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for entry in entries:
        remove_tree(path + "/" + entry)
    os.rmdir(path)


def raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exception of exc_type it raised; fail if it did not."""
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return exc
    raise AssertionError("%s did not raise %s" % (fn, exc_type.__name__))


def file_size(path):
    return os.stat(path)[6]
