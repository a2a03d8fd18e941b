"""Reading the journal and the outbox back from flash at boot, and reporting the commands a power
cut interrupted. The loading half of journal.py and outbox.py, kept apart so that it leaves the
heap after boot: Journal() and Outbox() run it through bootonly.call, and so does App for the
report. It decodes their records (the formats and record kinds are theirs: the module
docstrings and constants) and hands each to their boot-time methods (Journal.remember,
Outbox.adopt and adopt_state).

Each directory holds smallfiles.py's records; whether it is on LittleFS (so that its files are
rewritten in place) is checked here first. A `.new` file is a write cut short before its
rename: removed, the old record stays. An empty file is a create cut short (LittleFS). Any other
file failing its CRC is damage: counted in corrupt_records (a damaged journal file is removed and
its id forgotten early; a damaged outbox file is free, its message lost). Data from the
log-based layout (journal.log, outbox.log) is moved over once, at the first boot after the
upgrade (migrate.py, imported only then).
"""

import binascii
import os
import struct

from micropython import const
from smallfiles import MAX_RECORD, NEW, SmallFiles, make_dir

_S_IFDIR = const(0x4000)
_ENOENT = const(2)

# Each loader below imports the module whose records it decodes where it starts: that module is
# loaded already (it is the caller), and a board or a test that has no journal does not load one.


def _rewrites_atomically(directory):
    """True when directory is on LittleFS (copy-on-write files); False on POSIX, FAT and CPython."""
    try:
        import vfs
    except ImportError:
        return False
    if directory[:1] != "/":
        directory = os.getcwd().rstrip("/") + "/" + directory
    best, best_mount = None, ""
    for fs, mount in vfs.mount():  # no arguments: the mount table
        inside = directory == mount or directory.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best_mount):
            best, best_mount = fs, mount
    return type(best).__name__ in ("VfsLfs1", "VfsLfs2")


def _entries(path):
    """(name, is_directory) of each entry in the directory at path, one at a time."""
    if not hasattr(os, "ilistdir"):  # CPython, for the tests
        for name in os.listdir(path):
            yield name, os.stat(path + "/" + name)[0] & _S_IFDIR != 0
        return
    for entry in os.ilistdir(path):  # no list of every name at once
        yield entry[0], entry[1] == _S_IFDIR


def names(files):
    """The names of every file in files' directory (its sub-directories with fanout), in no
    particular order."""
    if not files.fanout:
        for name, _ in _entries(files.directory):
            yield name
        return
    for subdirectory, is_directory in _entries(files.directory):
        if is_directory:
            for name, _ in _entries(files.directory + "/" + subdirectory):
                yield name


def _spread_flat_files(files):
    """Move the files of the flat layout (before fanout) into their sub-directories, each by an
    atomic rename, in bounded batches (a flat journal has up to 256 files)."""
    while True:
        flat = []  # type: list
        for name, is_directory in _entries(files.directory):
            if not is_directory and name[0] != ".":  # a dot name has no sub-directory of its own
                flat.append(name)
                if len(flat) == 16:
                    break
        if not flat:
            return
        for name in flat:
            make_dir(files.directory + "/" + name[0])
            os.rename(files.directory + "/" + name, files.path(name))


def read(files, name, view):
    """(kind, body) of the record in `name`, body a memoryview into view (MAX_RECORD + 1 bytes). None
    for an empty file (a create cut short); ValueError for a damaged one (bad CRC, bad size)."""
    with open(files.path(name), "rb") as f:
        n = f.readinto(view)
    if not n:
        return None
    if n < 5 or n > MAX_RECORD:
        raise ValueError("damaged record")
    end = n - 4
    crc = view[end] | (view[end + 1] << 8) | (view[end + 2] << 16) | (view[end + 3] << 24)
    if binascii.crc32(view[:end]) != crc:
        raise ValueError("damaged record")
    return view[0], view[1:end]


def _upgrade_from_log(files, log_path, kind):
    """At the first boot after the upgrade from the log-based layout (records.py), move the log at
    log_path into files' directory with migrate.<kind> (`journal` or `outbox`)."""
    try:
        os.stat(log_path)
    except OSError:
        return
    import migrate  # only then: migrate (and records) are released with this module

    getattr(migrate, kind)(log_path, files)


def load_journal(dedup, directory):
    """Remember every valid file of the Journal dedup; return [(began_at, slot, id)] of the
    unfinished ones, oldest first."""
    import journal

    files = dedup.files
    files.in_place = _rewrites_atomically(files.directory)
    if files.fanout:
        _spread_flat_files(files)
    _upgrade_from_log(files, directory + "/journal.log", "journal")
    pending = []  # type: list
    doomed = []  # type: list  # leftovers and damaged files, removed once the listing is done
    view = memoryview(bytearray(MAX_RECORD + 1))
    for name in names(files):
        if name.endswith(NEW):
            doomed.append(name)
            continue
        try:
            slot = int(name, 16)
        except ValueError:
            continue  # not ours
        try:
            record = read(files, name, view)
        except ValueError:
            dedup.corrupt_records += 1
            doomed.append(name)
            continue
        if record is None:  # a create cut short: its begin() never returned
            doomed.append(name)
            continue
        kind, body = record
        kind_type = kind & journal.TYPE_MASK
        if kind_type == journal.DONE and len(body) == journal.HEAD_LEN + 4:
            began_at, crc = struct.unpack_from("<II", body, 0)
        elif kind_type == journal.BEGIN and len(body) > journal.HEAD_LEN:
            began_at = struct.unpack_from("<I", body, 0)[0]
            crc = binascii.crc32(body[journal.HEAD_LEN :])
            pending.append((began_at, slot, bytes(body[journal.HEAD_LEN :]).decode()))
        else:
            continue  # a record type from a later firmware: ignored rather than refusing to boot
        finished = journal.FINISHED if kind_type == journal.DONE else 0
        dedup.remember(slot, crc, began_at, (kind & journal.BOWLS_MASK) | finished)
    for name in doomed:
        files.remove(name)
    pending.sort()
    return pending


def load_outbox(box, directory):
    """Hand the Outbox box its newest state (box.adopt_state), then every pool file (box.adopt):
    the waiting messages in any order."""
    import outbox

    files = box.files
    files.in_place = _rewrites_atomically(files.directory)
    _upgrade_from_log(files, directory + "/outbox.log", "outbox")
    view = memoryview(bytearray(MAX_RECORD + 1))
    newest = None  # (name, next_seq, dropped, kept_from) of the state with the most drops
    for name in outbox.STATE_FILES:
        try:
            kind, body = _outbox_record(box, files, name, view)
        except OSError as exc:
            if exc.args[0] != _ENOENT:
                raise
            continue  # not written yet: no drop so far
        if kind == outbox.STATE and len(body) == 12:
            state = (name,) + struct.unpack("<III", body)
            if newest is None or state[2] > newest[2]:  # every drop counts one more
                newest = state
    kept_from = 0  # the messages below it were dropped (always the oldest): their files are free
    if newest is not None:
        kept_from = newest[3]
        box.adopt_state(newest[0], newest[1], newest[2])
    doomed = []  # type: list
    for name in names(files):
        if name.endswith(NEW):
            doomed.append(name)
            continue
        if name in outbox.STATE_FILES:
            continue  # read above
        try:
            index = int(name)
        except ValueError:
            continue  # not ours
        kind, body = _outbox_record(box, files, name, view)
        seq, payload = 0, None  # a free file holding no record
        if kind in (outbox.PUT, outbox.DONE) and len(body) >= 4:
            seq = struct.unpack_from("<I", body, 0)[0]
            if kind == outbox.PUT and seq >= kept_from:
                payload = bytes(body[4:])
        box.adopt(index, seq, payload)
    for name in doomed:
        files.remove(name)


def _outbox_record(box, files, name, view):
    """(kind, body) of the outbox file `name`; kind 0 when it is empty (a create cut short) or damaged
    (counted: a damaged pool file is free, its message lost)."""
    try:
        record = read(files, name, view)
    except ValueError:
        box.corrupt_records += 1
        return 0, b""
    return record or (0, b"")


def load_schedule(schedule):
    """Hand schedule.Schedule its `doc` and `last` records (schedule.py), if any; a damaged or missing
    one counts as absent (no schedule until the shadow brings it again; no previous evaluation)."""
    import schedule as layout

    files = SmallFiles(schedule.directory)
    files.in_place = schedule.in_place = _rewrites_atomically(files.directory)
    view = memoryview(bytearray(layout.RECORD_MAX + 1))  # its records are small: no 1 KB block at boot
    found = {}
    for name, kind in (("doc", layout.DOC), ("last", layout.LAST)):
        files.remove(name + NEW)
        try:
            record = read(files, name, view)
        except (OSError, ValueError):
            continue
        if record is not None and record[0] == kind:
            found[name] = bytes(record[1])
    last = found.get("last")
    last_evaluated = struct.unpack("<I", last)[0] if last is not None and len(last) == 4 else 0
    schedule.adopt(found.get("doc"), last_evaluated)


def report_interrupted(dedup, box, clock):
    """Report every command that was begun but never finished (the Journal dedup), once: an
    `interrupted` result into the outbox box, then finished. Never a retry: the bowl may already
    have received food (feeder.py)."""
    import messages

    unfinished = dedup.unfinished()
    if not unfinished:
        return
    now = clock.unix_time()
    for command_id, bowls in unfinished:
        # A crash between outbox.put and journal.finish leaves the real result queued already.
        for _seq, packed in box.items():
            if messages.result_id(packed) == command_id:
                break
        else:
            box.put(messages.pack_result(command_id, messages.INTERRUPTED, bowls, now, None))
        dedup.finish(command_id)
