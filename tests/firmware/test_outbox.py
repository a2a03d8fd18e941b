"""outbox.py: a bounded FIFO in flash with seqs that never go back and drop accounting."""

import os

import smallfiles
from fwtest import raises, remove_tree, tmpdir
from outbox import Outbox


def payload(i):
    return b"result-%02d" % i + b"." * 20  # 30 bytes, like a stored dispensed result


def contents(outbox):
    return list(outbox.items())


def test_fifo_with_increasing_seqs_survives_reboot():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 8)
        assert outbox.depth == 0 and outbox.next_seq == 1
        assert [outbox.put(payload(i)) for i in range(3)] == [1, 2, 3]
        assert outbox.at(0) == (1, payload(0))
        outbox.ack(1)
        assert outbox.at(0) == (2, payload(1)) and outbox.depth == 2
        outbox = Outbox(directory, 8)
        assert contents(outbox) == [(2, payload(1)), (3, payload(2))]
        assert outbox.next_seq == 4 and outbox.put(payload(3)) == 4
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
        outbox = Outbox(directory, 3)
        assert outbox.dropped == 2 and contents(outbox) == [(3, payload(2)), (4, payload(3)), (5, payload(4))]
        outbox = Outbox(directory, 2)  # a smaller capacity after a config change drops (and counts) too
        assert outbox.dropped == 3 and [seq for seq, _ in contents(outbox)] == [4, 5]
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
        before = smallfiles.bytes_written, sorted(os.listdir(directory + "/outbox"))
        outbox.ack(1)  # a second PUBACK
        outbox.ack(99)  # never assigned
        outbox.ack(0)
        assert (smallfiles.bytes_written, sorted(os.listdir(directory + "/outbox"))) == before
        assert contents(outbox) == [(2, payload(1))]
    finally:
        remove_tree(directory)


def test_ack_out_of_order_keeps_the_rest_in_order():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 4)
        for i in range(3):
            outbox.put(payload(i))
        outbox.ack(2)
        outbox = Outbox(directory, 4)
        assert contents(outbox) == [(1, payload(0)), (3, payload(2))]
    finally:
        remove_tree(directory)


def test_many_commands_keep_waiting_messages_seqs_and_drop_count():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 4)
        for _ in range(100):
            seq = outbox.put(payload(outbox.next_seq % 100))
            if seq % 7:
                outbox.ack(seq)  # every 7th stays, so the outbox fills up and drops
        while outbox.depth < 4:
            outbox.put(payload(outbox.next_seq % 100))
        assert outbox.dropped > 0
        # the pool: at most capacity + 1 waiting at once (before a drop), two free; and `s`
        assert len(os.listdir(directory + "/outbox")) <= 4 + 1 + 2 + 1
        waiting, dropped, next_seq = contents(outbox), outbox.dropped, outbox.next_seq
        outbox = Outbox(directory, 4)
        assert contents(outbox) == waiting and outbox.dropped == dropped and outbox.next_seq == next_seq
        assert outbox.put(b"after") == next_seq
        outbox = Outbox(directory, 4)
        assert contents(outbox) == waiting[1:] + [(next_seq, b"after")]  # full: "after" dropped the oldest
    finally:
        remove_tree(directory)


def test_an_empty_outbox_keeps_its_next_seq_in_two_files():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 64)
        for _ in range(200):
            outbox.ack(outbox.put(payload(1)))
        # two free files, one holding the newest seq
        assert sorted(os.listdir(directory + "/outbox")) == ["0", "1"]
        next_seq = outbox.next_seq
        outbox = Outbox(directory, 64)
        assert outbox.depth == 0 and outbox.next_seq == next_seq == 201 and outbox.dropped == 0
    finally:
        remove_tree(directory)


def test_a_dispensed_result_fits_inline_in_littlefs_metadata():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 4)
        outbox.put(payload(0))
        assert os.stat(directory + "/outbox/0")[6] <= smallfiles.INLINE_MAX
    finally:
        remove_tree(directory)


def test_large_and_oversized_payloads():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 4)
        big = b"r" * 300
        outbox.put(big)
        raises(ValueError, outbox.put, b"x" * smallfiles.MAX_RECORD)
        assert outbox.depth == 1 and outbox.next_seq == 2
        assert contents(Outbox(directory, 4)) == [(1, big)]
    finally:
        remove_tree(directory)


def test_bit_flipped_record_costs_only_that_message():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 8)
        for i in range(3):
            outbox.put(payload(i))
        path = directory + "/outbox/1"  # seq 2's
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data[5] ^= 4
        with open(path, "wb") as f:
            f.write(data)
        outbox = Outbox(directory, 8)
        assert outbox.corrupt_records == 1
        assert contents(outbox) == [(1, payload(0)), (3, payload(2))]  # seq 2 is never reused
        assert outbox.next_seq == 4
    finally:
        remove_tree(directory)


def test_an_ack_is_durable_when_it_returns():
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 8)
        outbox.put(payload(0))
        outbox.put(payload(1))
        outbox.ack(1)
        after_power_cut = Outbox(directory, 8)  # the first one is never closed: as if the power went now
        assert contents(after_power_cut) == [(2, payload(1))]
        outbox.ack(2)
        after_power_cut = Outbox(directory, 8)
        assert contents(after_power_cut) == [] and after_power_cut.next_seq == 3
    finally:
        remove_tree(directory)


def test_a_state_record_in_a_pool_file_is_ignored_not_fatal():
    # Only `s` and `t` hold the state; a STATE record anywhere else (foreign data) must not stop the boot.
    directory = tmpdir()
    try:
        outbox = Outbox(directory, 8)
        outbox.put(payload(0))
        files = smallfiles.SmallFiles(directory + "/outbox")
        files.write("5", 5, b"\x09\x00\x00\x00\x07\x00\x00\x00\x02\x00\x00\x00")  # next_seq 9, 7 dropped
        outbox = Outbox(directory, 8)
        assert contents(outbox) == [(1, payload(0))] and outbox.dropped == 0 and outbox.next_seq == 2
    finally:
        remove_tree(directory)
