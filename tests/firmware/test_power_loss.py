"""Power cuts: every torn write cut at every byte, every atomic step (rename, remove) on both sides.

The journal and the outbox keep one record per small file (smallfiles.py). A cut while a file is
written leaves it short: simulated by truncating the newest file at every offset, then booting
(opening the directory again). A rename or remove is atomic (LittleFS, POSIX), so a cut leaves the
state from before or after it: both are booted. After each: recovery succeeds, nothing can be
dispensed twice, and no message other than the torn one is lost.
"""

import os

from fwtest import remove_tree, tmpdir
from journal import Journal
from outbox import Outbox

NOW = 1795730000
HORIZON = 3600


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def truncations(path):
    """Cut path at every offset up to its full length; yield whether the record is whole."""
    full = read_bytes(path)
    for cut in range(len(full) + 1):
        write_bytes(path, full[:cut])
        yield cut == len(full)


def journal_with_a_and_b(directory):
    journal = Journal(directory, HORIZON)
    journal.begin("press-a", NOW, 1)
    journal.finish("press-a")
    journal.begin("press-b", NOW, 2)  # begun, never finished
    return journal


def boot_journal_and_begin_next(directory, check, durable):
    journal = Journal(directory, HORIZON)
    assert journal.seen("press-a") and journal.seen("press-b")
    check(journal, durable)
    journal.begin("press-next", NOW, 1)  # a fresh slot, whatever the cut left
    journal.close()
    journal = Journal(directory, HORIZON)
    assert journal.seen("press-next") and journal.corrupt_records == 0
    journal.finish("press-next")
    journal.close()
    journal = Journal(directory, HORIZON)
    journal.prune(NOW + HORIZON + 1)
    journal.close()


def test_journal_begin_torn_at_every_byte():
    def check(journal, durable):
        # Torn: press-c is unknown, but begin never returned, so no servo moved for it.
        assert journal.seen("press-c") == durable
        assert journal.unfinished() == [("press-b", 2)] + ([("press-c", 3)] if durable else [])

    directory = tmpdir()
    try:
        journal_with_a_and_b(directory).begin("press-c", NOW, 3)
        path = directory + "/journal/b02"
        full = read_bytes(path)
        for durable in truncations(path):
            boot_journal_and_begin_next(directory, check, durable)
            remove_tree(directory + "/journal")
            journal_with_a_and_b(directory).close()
            write_bytes(path, full)
    finally:
        remove_tree(directory)


def test_journal_finish_cut_before_and_after_its_rename():
    def check(journal, durable):
        # Before: press-b is still seen and reported interrupted; it is never dispensed again.
        assert journal.seen("press-b")
        assert journal.unfinished() == ([] if durable else [("press-b", 2)])

    for durable in (False, True):
        directory = tmpdir()
        try:
            journal = journal_with_a_and_b(directory)
            if durable:
                journal.finish("press-b")
            journal.close()
            boot_journal_and_begin_next(directory, check, durable)
        finally:
            remove_tree(directory)


def test_journal_rename_that_copies_leaves_the_finished_state():
    # A filesystem whose rename copies and then removes (FAT): cut in between, both names exist.
    directory = tmpdir()
    try:
        journal_with_a_and_b(directory).close()
        write_bytes(directory + "/journal/d01", read_bytes(directory + "/journal/b01"))
        journal = Journal(directory, HORIZON)
        assert journal.seen("press-b") and journal.unfinished() == [] and journal.entries == 2
        assert sorted(os.listdir(directory + "/journal")) == ["d00", "d01"]
        journal.close()
    finally:
        remove_tree(directory)


def outbox_holding_2_and_3(directory):
    outbox = Outbox(directory, 8)
    for i in range(3):
        outbox.put(b"message-%d" % i)
    outbox.ack(1)
    return outbox


def boot_outbox_and_put(directory, check, durable):
    outbox = Outbox(directory, 8)
    waiting, next_seq = list(outbox.items()), outbox.next_seq
    check(waiting, next_seq, durable)  # next_seq: above every seq durably written
    seq = outbox.put(b"after")
    assert seq == next_seq
    outbox.close()
    outbox = Outbox(directory, 8)
    assert list(outbox.items()) == waiting + [(seq, b"after")] and outbox.corrupt_records == 0
    outbox.close()


def test_outbox_put_torn_at_every_byte():
    def check(waiting, next_seq, durable):
        # Torn: message-3 is gone, but put never returned, so it was never sent and seq 4 never seen.
        queued = [(2, b"message-1"), (3, b"message-2")]
        assert waiting == queued + ([(4, b"message-3")] if durable else [])
        assert next_seq == (5 if durable else 4)

    directory = tmpdir()
    try:
        assert outbox_holding_2_and_3(directory).put(b"message-3") == 4
        path = directory + "/outbox/4"
        full = read_bytes(path)
        for durable in truncations(path):
            boot_outbox_and_put(directory, check, durable)
            remove_tree(directory + "/outbox")
            outbox_holding_2_and_3(directory).close()
            write_bytes(path, full)
    finally:
        remove_tree(directory)


def test_outbox_ack_cut_before_and_after():
    def check(waiting, next_seq, durable):
        # Before: message-3 (seq 4) waits again and is re-sent with its own seq, as after a lost PUBACK.
        assert waiting == [(3, b"message-2")] + ([] if durable else [(4, b"message-3")])
        assert next_seq == 5

    for durable in (False, True):
        directory = tmpdir()
        try:
            outbox = outbox_holding_2_and_3(directory)
            outbox.ack(2)
            assert outbox.put(b"message-3") == 4
            if durable:
                outbox.ack(4)  # the newest: renamed to `n`, which keeps next_seq
            outbox.close()
            boot_outbox_and_put(directory, check, durable)
        finally:
            remove_tree(directory)


def test_outbox_drop_cut_at_every_step():
    # A drop writes s.tmp (torn at every byte here), renames it to s, then removes the oldest message.
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 2)
        outbox.put(b"message-0")
        oldest = read_bytes(directory + "/outbox/1")
        outbox.put(b"message-1")
        outbox.put(b"message-2")  # drops seq 1
        outbox.close()
        counters = read_bytes(directory + "/outbox/s")
        os.remove(directory + "/outbox/s")
        write_bytes(directory + "/outbox/1", oldest)  # the cut came before its removal
        for cut in range(len(counters) + 1):
            write_bytes(directory + "/outbox/s.tmp", counters[:cut])
            outbox = Outbox(directory, 2)  # one message too many: dropped (and counted) at load
            assert list(outbox.items()) == [(2, b"message-1"), (3, b"message-2")]
            assert outbox.dropped == 1 and outbox.next_seq == 4
            assert sorted(os.listdir(directory + "/outbox")) == ["2", "3", "s"]
            outbox.close()
            os.remove(directory + "/outbox/s")
            write_bytes(directory + "/outbox/1", oldest)
    finally:
        remove_tree(directory)
