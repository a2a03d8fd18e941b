"""migrate.py: the first boot after the upgrade moves journal.log and outbox.log into small files,
and a power cut at any point of that move leaves the log in charge until a later boot completes it."""

import os
import struct
import sys

import records
import smallfiles
from fwtest import remove_tree, tmpdir
from journal import Journal
from outbox import Outbox

NOW = 1795730000
HORIZON = 3600


def begin(slot, began_at, command_id):
    return struct.pack("<BI", slot, began_at) + command_id


def write_old_logs(directory):
    """Logs as the log-based firmware left them: a finished id, a reused slot, an unfinished id,
    a compacted (DONE) id; results acked, dropped and waiting, with the counters of a compaction."""
    journal = records.Log(directory + "/journal.log")
    journal.load(lambda kind, body: None)
    journal.append(0x30 | 1, begin(0, NOW - 50, b"press-done"))  # DONE, from a compaction
    journal.append(0x10 | 1, begin(1, NOW - 40, b"press-forgotten"))
    journal.append(0x20, b"\x01")
    journal.append(0x10 | 2, begin(1, NOW - 30, b"press-a"))  # slot 1 reused: press-forgotten was pruned
    journal.append(0x20, b"\x01")
    journal.append(0x10 | 3, begin(2, NOW - 20, b"press-crashed"))  # power lost while dispensing
    journal.close()
    outbox = records.Log(directory + "/outbox.log")
    outbox.load(lambda kind, body: None)
    outbox.append(2, struct.pack("<I", 300) + b"result-300")  # ITEM, from a compaction
    outbox.append(5, struct.pack("<II", 301, 7))  # STATE: next_seq 301, dropped 7
    outbox.append(1, bytes([301 & 0xFF]) + b"result-301")  # PUT
    outbox.append(1, bytes([302 & 0xFF]) + b"result-302")
    outbox.append(3, struct.pack("<I", 301))  # ACK
    outbox.append(1, bytes([303 & 0xFF]) + b"result-303")
    outbox.append(4, struct.pack("<I", 300))  # DROP
    outbox.close()


def check_migrated(directory):
    journal = Journal(directory, HORIZON)
    assert journal.seen("press-done") and journal.seen("press-a") and journal.seen("press-crashed")
    assert not journal.seen("press-forgotten") and journal.entries == 3
    assert journal.unfinished() == [("press-crashed", 3)]
    counts = bytearray(4)
    journal.tally(NOW - 60, NOW - 60, counts)
    assert list(counts) == [2, 2, 2, 2]  # began_at and bowls came across: the cap still counts them
    outbox = Outbox(directory, 8)
    assert list(outbox.items()) == [(302, b"result-302"), (303, b"result-303")]
    assert outbox.next_seq == 304 and outbox.dropped == 8
    assert sorted(os.listdir(directory)) == ["journal", "outbox"]  # the logs are gone


def test_first_boot_after_the_upgrade_moves_both_logs():
    directory = tmpdir()
    try:
        write_old_logs(directory)
        check_migrated(directory)
        assert "migrate" not in sys.modules  # boot-only: released once done (bootonly.py)
        check_migrated(directory)  # and the next boot reads the new layout alone
    finally:
        remove_tree(directory)


def boot_with_a_power_cut_at_write(cut):
    """Boot on the old logs with the power cut during the cut-th write (0 = the first) of the
    migration, then boot again; return False when the migration had fewer writes than that."""
    real_write = smallfiles.SmallFiles.write
    writes = [0]
    was_cut = [False]

    def cut_write(files, name, kind, head, body=b""):
        if writes[0] == cut:
            # Torn: part of the record reaches the file, then the power goes.
            with open(files.directory + "/" + name, "wb") as f:
                f.write(bytes([kind]) + bytes(head)[:2])
            was_cut[0] = True
            raise OSError(5, "power cut")
        writes[0] += 1
        real_write(files, name, kind, head, body)

    directory = tmpdir()
    try:
        write_old_logs(directory)
        smallfiles.SmallFiles.write = cut_write
        try:
            Journal(directory, HORIZON)
            Outbox(directory, 8)
        except OSError:
            pass
        smallfiles.SmallFiles.write = real_write
        check_migrated(directory)  # the next boot finishes the job from the logs
    finally:
        smallfiles.SmallFiles.write = real_write
        remove_tree(directory)
    return was_cut[0]


def test_power_cut_at_every_write_of_the_migration():
    cut = 0
    while boot_with_a_power_cut_at_write(cut):
        cut += 1
    assert cut == 3 + 3  # journal: 3 ids; outbox: 2 results and the counters
