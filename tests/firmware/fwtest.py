"""Helpers shared by the firmware tests on CPython and MicroPython alike.

Only what both interpreters have: os, time, plain exceptions.
"""

import os


def tmpdir(base="/tmp"):
    """A fresh empty directory under base (MicroPython has no getpid, so a random name)."""
    path = base + "/fwtest-" + "".join("%02x" % b for b in os.urandom(8))
    os.mkdir(path)
    return path


def _some_names(path, most=32):
    """Up to `most` names in the directory at path (raises OSError if it is not one). MicroPython's
    ilistdir, because a full listdir of a journal's 256 files is 2 KB of a 64K heap at once."""
    names = []
    entries = os.ilistdir(path) if hasattr(os, "ilistdir") else iter(os.listdir(path))
    for entry in entries:
        names.append(entry if isinstance(entry, str) else entry[0])
        if len(names) == most:
            break
    return names


def remove_tree(path):
    try:
        names = _some_names(path)
    except OSError:
        try:
            os.remove(path)
        except OSError:
            pass
        return
    while names:
        for entry in names:
            remove_tree(path + "/" + entry)
        names = _some_names(path)
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


def skip_unless(condition, reason):
    """Skip the calling test unless condition holds: pytest's skip on CPython; on MicroPython the
    runner has no skips, so the few such tests only check there."""
    if condition:
        return
    import pytest

    pytest.skip(reason)
