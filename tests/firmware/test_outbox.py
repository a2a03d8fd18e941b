"""outbox.py: a bounded FIFO in flash with seqs that never go back, drop accounting and compaction."""

import records
from fwtest import file_size, raises, remove_tree, tmpdir
from outbox import Outbox


def payload(i):
    return b"result-%02d" % i + b"." * 20  # 30 bytes, like a stored dispensed result


def contents(outbox):
    return list(outbox.items())


def test_fifo_with_increasing_seqs_survives_reboot():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 8)
        assert outbox.peek() is None and outbox.depth == 0 and outbox.next_seq == 1
        assert [outbox.put(payload(i)) for i in range(3)] == [1, 2, 3]
        assert outbox.peek() == (1, payload(0))
        outbox.ack(1)
        assert outbox.peek() == (2, payload(1)) and outbox.depth == 2
        outbox.close()
        outbox = Outbox(directory, 8)
        assert contents(outbox) == [(2, payload(1)), (3, payload(2))]
        assert outbox.next_seq == 4 and outbox.put(payload(3)) == 4
        outbox.close()
    finally:
        remove_tree(directory)


def test_full_outbox_drops_the_oldest_and_counts_it_across_reboots():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 3)
        for i in range(5):
            outbox.put(payload(i))
        assert outbox.dropped == 2 and outbox.depth == 3
        assert [seq for seq, _ in contents(outbox)] == [3, 4, 5]
        outbox.close()
        outbox = Outbox(directory, 3)
        assert outbox.dropped == 2 and contents(outbox) == [(3, payload(2)), (4, payload(3)), (5, payload(4))]
        outbox.close()
        outbox = Outbox(directory, 2)  # a smaller capacity after a config change drops (and counts) too
        assert outbox.dropped == 3 and [seq for seq, _ in contents(outbox)] == [4, 5]
        outbox.close()
        assert Outbox(directory, 2).dropped == 3
    finally:
        remove_tree(directory)


def test_ack_of_an_unknown_or_repeated_seq_is_a_no_op():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 4)
        outbox.put(payload(0))
        outbox.put(payload(1))
        outbox.ack(1)
        before = records.bytes_written
        outbox.ack(1)  # a second PUBACK
        outbox.ack(99)  # never assigned
        outbox.ack(0)
        assert records.bytes_written == before
        assert contents(outbox) == [(2, payload(1))]
        outbox.close()
    finally:
        remove_tree(directory)


def test_ack_out_of_order_keeps_the_rest_in_order():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 4)
        for i in range(3):
            outbox.put(payload(i))
        outbox.ack(2)
        outbox.close()
        outbox = Outbox(directory, 4)
        assert contents(outbox) == [(1, payload(0)), (3, payload(2))]
        outbox.close()
    finally:
        remove_tree(directory)


def test_reopen_after_compaction_keeps_waiting_messages_seqs_and_drop_count():
    directory = tmpdir()
    try:
        path = directory + "/outbox.log"
        outbox = Outbox(directory, 4)
        while file_size(path) < records.COMPACT_MIN_BYTES - 100:
            seq = outbox.put(payload(outbox.next_seq % 100))
            if seq % 7:
                outbox.ack(seq)  # every 7th stays, so the outbox fills up and drops
        assert outbox.dropped > 0
        for i in range(4):  # full, so each put drops; past the threshold the drop rewrites the file
            outbox.put(payload(i))
        assert file_size(path) < 300
        waiting, dropped, next_seq = contents(outbox), outbox.dropped, outbox.next_seq
        outbox.close()
        outbox = Outbox(directory, 4)
        assert contents(outbox) == waiting and outbox.dropped == dropped and outbox.next_seq == next_seq
        assert outbox.put(b"after") == next_seq
        outbox.close()
        outbox = Outbox(directory, 4)
        assert contents(outbox) == waiting[1:] + [(next_seq, b"after")]  # full: "after" dropped the oldest
        outbox.close()
    finally:
        remove_tree(directory)


def test_empty_outbox_compacts_to_its_counters():
    directory = tmpdir()
    try:
        path = directory + "/outbox.log"
        outbox = Outbox(directory, 64)
        biggest = 0
        for _ in range(200):  # about 2 compactions' worth
            outbox.ack(outbox.put(payload(1)))
            biggest = max(biggest, file_size(path))
        # rewritten each time it reaches the threshold
        assert records.COMPACT_MIN_BYTES - 100 < biggest < records.COMPACT_MIN_BYTES
        next_seq = outbox.next_seq
        outbox.close()
        outbox = Outbox(directory, 64)
        assert outbox.depth == 0 and outbox.next_seq == next_seq and outbox.dropped == 0
        outbox.close()
    finally:
        remove_tree(directory)


def test_large_and_oversized_payloads():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 4)
        big = b"r" * 300
        outbox.put(big)
        raises(ValueError, outbox.put, b"x" * (records.MAX_BODY + 1))
        assert outbox.depth == 1 and outbox.next_seq == 2
        outbox.close()
        assert contents(Outbox(directory, 4)) == [(1, big)]
    finally:
        remove_tree(directory)


def test_bit_flipped_record_costs_only_that_message():
    directory = tmpdir()
    try:
        path = directory + "/outbox.log"
        outbox = Outbox(directory, 8)
        outbox.put(payload(0))
        middle = file_size(path)
        outbox.put(payload(1))
        outbox.put(payload(2))
        outbox.close()
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data[middle + 5] ^= 4
        with open(path, "wb") as f:
            f.write(data)
        outbox = Outbox(directory, 8)
        assert outbox.corrupt_records == 1
        assert contents(outbox) == [(1, payload(0)), (3, payload(2))]  # seq 2 is never reused
        assert outbox.next_seq == 4
        outbox.close()
    finally:
        remove_tree(directory)


def test_an_ack_is_durable_once_the_next_put_returns():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 8)
        outbox.put(payload(0))
        outbox.ack(1)  # written without a flush of its own
        outbox.put(payload(1))
        after_power_cut = Outbox(directory, 8)  # the first one is never closed: as if the power went now
        assert contents(after_power_cut) == [(2, payload(1))]
        after_power_cut.close()
        outbox.close()
    finally:
        remove_tree(directory)
