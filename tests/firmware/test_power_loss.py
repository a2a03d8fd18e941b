"""Power cuts: the journal and the outbox cut at every byte of their last record, and mid-compaction.

A cut is simulated by truncating the file, then booting (opening it again). After each one:
recovery succeeds, nothing can be dispensed twice, and no message other than the torn one is lost.
"""

import os

from fwtest import file_size, remove_tree, tmpdir
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


def truncations(path, start):
    """Cut path at every offset from start to its full length; yield whether the last record is whole."""
    full = read_bytes(path)
    assert len(full) > start
    for cut in range(start, len(full) + 1):
        write_bytes(path, full[:cut])
        yield cut == len(full)


def journal_cut_at_every_byte(last_operation, check):
    """Write a journal whose last record comes from last_operation(journal); check every truncation of it."""
    directory = tmpdir()
    try:
        path = directory + "/journal.log"
        journal = Journal(directory, HORIZON)
        journal.begin("press-a", NOW, 1)
        journal.finish("press-a")
        journal.begin("press-b", NOW, 2)  # begun, never finished
        start = file_size(path)
        last_operation(journal)
        journal.close()
        for durable in truncations(path, start):
            journal = Journal(directory, HORIZON)
            assert journal.seen("press-a") and journal.seen("press-b")
            check(journal, durable)
            journal.begin("press-next", NOW, 1)  # appends cleanly after the repaired tail
            journal.close()
            journal = Journal(directory, HORIZON)
            assert journal.seen("press-next") and journal.corrupt_records == 0
            journal.close()
    finally:
        remove_tree(directory)


def test_journal_begin_torn_at_every_byte():
    def begin_c(journal):
        journal.begin("press-c", NOW, 3)

    def check(journal, durable):
        # Torn: press-c is unknown, but begin never returned, so no servo moved for it.
        assert journal.seen("press-c") == durable
        assert journal.unfinished() == [("press-b", 2)] + ([("press-c", 3)] if durable else [])

    journal_cut_at_every_byte(begin_c, check)


def test_journal_finish_torn_at_every_byte():
    def finish_b(journal):
        journal.finish("press-b")

    def check(journal, durable):
        # Torn: press-b is still seen and reported interrupted; it is never dispensed again.
        assert journal.seen("press-b")
        assert journal.unfinished() == ([] if durable else [("press-b", 2)])

    journal_cut_at_every_byte(finish_b, check)


def outbox_cut_at_every_byte(prepare, last_operation, check):
    """Outbox holding seqs 2 and 3 (1 acked), then prepare(); check each truncation of the last record."""
    directory = tmpdir()
    try:
        path = directory + "/outbox.log"
        outbox = Outbox(directory, 8)
        for i in range(3):
            outbox.put(b"message-%d" % i)
        outbox.ack(1)
        prepare(outbox)
        outbox.close()  # everything so far durable (an ACK alone waits for the next flush)
        outbox = Outbox(directory, 8)
        start = file_size(path)
        last_operation(outbox)
        outbox.close()
        for durable in truncations(path, start):
            outbox = Outbox(directory, 8)
            waiting, next_seq = list(outbox.items()), outbox.next_seq
            check(waiting, next_seq, durable)  # next_seq: above every seq durably written
            seq = outbox.put(b"after")
            assert seq == next_seq
            outbox.close()
            outbox = Outbox(directory, 8)
            assert list(outbox.items()) == waiting + [(seq, b"after")] and outbox.corrupt_records == 0
            outbox.close()
    finally:
        remove_tree(directory)


def test_outbox_put_torn_at_every_byte():
    def put_3(outbox):
        assert outbox.put(b"message-3") == 4

    def check(waiting, next_seq, durable):
        # Torn: message-3 is gone, but put never returned, so it was never sent and seq 4 never seen.
        queued = [(2, b"message-1"), (3, b"message-2")]
        assert waiting == queued + ([(4, b"message-3")] if durable else [])
        assert next_seq == (5 if durable else 4)

    outbox_cut_at_every_byte(lambda outbox: None, put_3, check)


def test_outbox_ack_torn_at_every_byte():
    def prepare(outbox):
        outbox.ack(2)
        assert outbox.put(b"message-3") == 4

    def ack_4(outbox):
        outbox.ack(4)

    def check(waiting, next_seq, durable):
        # Torn: message-3 (seq 4) waits again and will be re-sent with its own seq, as after a lost PUBACK.
        assert waiting == [(3, b"message-2")] + ([] if durable else [(4, b"message-3")])
        assert next_seq == 5

    outbox_cut_at_every_byte(prepare, ack_4, check)


def test_torn_compaction_leaves_the_original_in_charge():
    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON)
        journal.begin("press-a", NOW, 1)
        journal.finish("press-a")
        journal.begin("press-b", NOW, 2)
        journal.close()
        outbox = Outbox(directory, 8)
        outbox.put(b"message-0")
        outbox.put(b"message-1")
        outbox.close()
        for name in ("journal.log", "outbox.log"):
            data = read_bytes(directory + "/" + name)
            write_bytes(directory + "/" + name + ".tmp", data[: len(data) // 2])  # cut mid-rewrite
        journal = Journal(directory, HORIZON)
        outbox = Outbox(directory, 8)
        assert journal.seen("press-a") and journal.unfinished() == [("press-b", 2)]
        assert list(outbox.items()) == [(1, b"message-0"), (2, b"message-1")] and outbox.next_seq == 3
        assert sorted(os.listdir(directory)) == ["journal.log", "outbox.log"]
        journal.close()
        outbox.close()
    finally:
        remove_tree(directory)
