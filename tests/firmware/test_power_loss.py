"""Power cuts: every write of the journal and the outbox cut at every byte.

Each record lives in a small file replaced atomically (smallfiles.py). Off LittleFS the new record
is written to `<name>.new` and renamed over the file, so a cut leaves a `.new` holding any prefix of
the record next to the old file: simulated here at every offset. A write into a free file (begin,
put, a drop's state) removes the file first, so there a cut can also leave no file, with or without
a `.new`: simulated too. On LittleFS a rewrite is
copy-on-write and a cut leaves the old record, or an empty file for a create: simulated too. Each
cut state is booted (the directory opened again). After each: recovery succeeds, nothing can be
dispensed twice, no message other than the cut one is lost, and the cut write's leftovers are gone.
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


def snapshot(path):
    return {name: read_bytes(path + "/" + name) for name in os.listdir(path)}


def restore(path, files):
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    for name in files:
        write_bytes(path + "/" + name, files[name])


def write_cuts(path, before, name, content, free=False):
    """Yield once for each state a power cut can leave while `name` is written with content over the
    files `before` (path holds that state meanwhile). Off LittleFS: a .new with any prefix, the old
    file intact, or, for a free file (which smallfiles.write may remove first), already removed."""
    olds = [before]
    if free and name in before:
        olds.append({other: before[other] for other in before if other != name})
        restore(path, olds[1])
        yield  # removed, no .new yet
    for old in olds:
        for cut in range(len(content) + 1):
            restore(path, old)
            write_bytes(path + "/" + name + ".new", content[:cut])
            yield
    if name not in before:  # LittleFS: a create cut before its close is an empty file
        restore(path, before)
        write_bytes(path + "/" + name, b"")
        yield


def cut_states(path, operation, free=False):
    """Run operation() on the files in path; yield once for each state a power cut during it can
    leave (path holds that state meanwhile), with False, then once with True for the finished write.
    free: the operation writes a free file."""
    before = snapshot(path)
    operation()
    after = snapshot(path)
    changed = [name for name in after if before.get(name) != after[name]]
    assert len(changed) == 1, changed  # one record per operation
    name = changed[0]
    for _ in write_cuts(path, before, name, after[name], free):
        yield False
    restore(path, after)
    yield True


def journal_with_a_and_b(directory):
    journal = Journal(directory, HORIZON)
    journal.begin("press-a", NOW, 1)
    journal.finish("press-a")
    journal.begin("press-b", NOW, 2)  # begun, never finished
    return journal


def journal_cut_at_every_byte(last_operation, check, free=False):
    directory = tmpdir()
    try:
        journal = journal_with_a_and_b(directory)
        for durable in cut_states(directory + "/journal/0", lambda: last_operation(journal), free):
            journal_after = Journal(directory, HORIZON)
            assert journal_after.seen("press-a") and journal_after.seen("press-b")
            assert journal_after.corrupt_records == 0
            assert not any(name.endswith(".new") for name in os.listdir(directory + "/journal/0"))
            check(journal_after, durable)
            journal_after.begin("press-next", NOW, 1)  # a fresh slot, whatever the cut left
            assert Journal(directory, HORIZON).seen("press-next")
    finally:
        remove_tree(directory)


def test_journal_begin_cut_at_every_byte():
    def check(journal, durable):
        # Cut: press-c is unknown, but begin never returned, so no servo moved for it.
        assert journal.seen("press-c") == durable
        assert journal.unfinished() == [("press-b", 2)] + ([("press-c", 3)] if durable else [])

    journal_cut_at_every_byte(lambda journal: journal.begin("press-c", NOW, 3), check, free=True)


def test_journal_finish_cut_at_every_byte():
    def check(journal, durable):
        # Cut: press-b is still seen and reported interrupted; it is never dispensed again.
        assert journal.seen("press-b")
        assert journal.unfinished() == ([] if durable else [("press-b", 2)])

    journal_cut_at_every_byte(lambda journal: journal.finish("press-b"), check)


def test_journal_begin_into_a_reused_slot_cut_at_every_byte():
    # The slot's file still holds a forgotten id's DONE record, which a cut leaves in place.
    def check(journal, durable):
        assert journal.seen("press-new") == durable
        assert journal.unfinished() == ([("press-new", 1)] if durable else [])

    directory = tmpdir()
    try:
        journal = Journal(directory, HORIZON, max_entries=1)
        journal.begin("press-old", NOW, 1)
        journal.finish("press-old")
        journal.prune(NOW + HORIZON + 1)
        later = NOW + HORIZON + 1
        begin = lambda: journal.begin("press-new", later, 1)  # noqa: E731
        for durable in cut_states(directory + "/journal/0", begin, free=True):
            journal_after = Journal(directory, HORIZON, max_entries=1)
            journal_after.prune(later)
            check(journal_after, durable)
            assert not journal_after.seen("press-old")
    finally:
        remove_tree(directory)


def outbox_holding_2_and_3(directory):
    outbox = Outbox(directory, 8)
    for i in range(3):
        outbox.put(b"message-%d" % i)
    outbox.ack(1)
    return outbox


def outbox_cut_at_every_byte(prepare, last_operation, check, free=False):
    """Outbox holding seqs 2 and 3 (1 acked), then prepare(); check every cut of last_operation."""
    directory = tmpdir()
    try:
        outbox = outbox_holding_2_and_3(directory)
        prepare(outbox)
        for durable in cut_states(directory + "/outbox", lambda: last_operation(outbox), free):
            after = Outbox(directory, 8)
            waiting, next_seq = list(after.items()), after.next_seq
            assert after.corrupt_records == 0
            assert not any(name.endswith(".new") for name in os.listdir(directory + "/outbox"))
            check(waiting, next_seq, durable)  # next_seq: above every seq durably written
            seq = after.put(b"after")
            assert seq == next_seq
            assert list(Outbox(directory, 8).items()) == waiting + [(seq, b"after")]
    finally:
        remove_tree(directory)


def test_outbox_put_cut_at_every_byte():
    def put_3(outbox):
        assert outbox.put(b"message-3") == 4

    def check(waiting, next_seq, durable):
        # Cut: message-3 is gone, but put never returned, so it was never sent and seq 4 never seen.
        queued = [(2, b"message-1"), (3, b"message-2")]
        assert waiting == queued + ([(4, b"message-3")] if durable else [])
        assert next_seq == (5 if durable else 4)

    outbox_cut_at_every_byte(lambda outbox: None, put_3, check, free=True)


def test_outbox_put_into_a_free_file_cut_at_every_byte():
    def prepare(outbox):
        outbox.ack(2)
        outbox.ack(3)  # every message acknowledged: seq 4 goes into a free file, rewritten in place

    def put_3(outbox):
        assert outbox.put(b"message-3") == 4

    def check(waiting, next_seq, durable):
        assert waiting == ([(4, b"message-3")] if durable else [])
        assert next_seq == (5 if durable else 4)  # seq 3 stays used: its file is never the one rewritten

    outbox_cut_at_every_byte(prepare, put_3, check, free=True)


def test_outbox_ack_cut_at_every_byte():
    def prepare(outbox):
        outbox.ack(2)
        assert outbox.put(b"message-3") == 4

    def check(waiting, next_seq, durable):
        # Cut: message-3 (seq 4) waits again and is re-sent with its own seq, as after a lost PUBACK.
        assert waiting == [(3, b"message-2")] + ([] if durable else [(4, b"message-3")])
        assert next_seq == 5

    outbox_cut_at_every_byte(prepare, lambda outbox: outbox.ack(4), check)


def drop_cut_at_every_byte(prior_drops):
    # A put into a full outbox writes the state (the drop: one write, into the older of `s` and
    # `t`), then its message. A cut in the state leaves the outbox as it was; a cut in the message
    # leaves the drop done and the put undone (it never returned, so its seq is free again).
    directory = tmpdir()
    try:
        path = directory + "/outbox"
        outbox = Outbox(directory, 2)
        for i in range(2 + prior_drops):
            outbox.put(b"message-%d" % i)
        oldest = prior_drops + 1  # seq of the oldest waiting message, message-<seq - 1>
        before = snapshot(path)
        outbox.put(b"new")  # drops seq oldest, then writes seq oldest + 2
        after = snapshot(path)
        changed = [name for name in after if before.get(name) != after[name]]
        assert len(changed) == 2, changed
        state = [name for name in changed if name in ("s", "t")][0]
        message = [name for name in changed if name != state][0]
        waiting = [(oldest, b"message-%d" % (oldest - 1)), (oldest + 1, b"message-%d" % oldest)]
        for _ in write_cuts(path, before, state, after[state], free=True):  # the drop cut
            outbox = Outbox(directory, 2)
            assert list(outbox.items()) == waiting
            assert outbox.dropped == prior_drops and outbox.next_seq == oldest + 2
        dropped = dict(before)
        dropped[state] = after[state]
        for _ in write_cuts(path, dropped, message, after[message], free=True):  # the message cut
            outbox = Outbox(directory, 2)
            assert list(outbox.items()) == waiting[1:]
            assert outbox.dropped == prior_drops + 1 and outbox.next_seq == oldest + 2
        restore(path, after)
        outbox = Outbox(directory, 2)
        assert list(outbox.items()) == waiting[1:] + [(oldest + 2, b"new")]
        assert outbox.dropped == prior_drops + 1 and outbox.next_seq == oldest + 3
        assert outbox.corrupt_records == 0
        assert not any(name.endswith(".new") for name in os.listdir(path))
    finally:
        remove_tree(directory)


def test_outbox_first_drop_cut_at_every_byte():
    drop_cut_at_every_byte(0)  # writes `s`


def test_outbox_second_drop_cut_at_every_byte():
    drop_cut_at_every_byte(1)  # writes `t`, `s` holding the first drop


def test_outbox_third_drop_cut_at_every_byte():
    drop_cut_at_every_byte(2)  # rewrites `s` (older than `t`): a cut may leave it removed
