"""presscount.py: the button's seq never repeats, across reboots and torn writes, and rarely writes."""

import presscount
import records
from fwtest import file_size, remove_tree, tmpdir


def test_seqs_count_up_and_a_reboot_never_reuses_one():
    directory = tmpdir()
    try:
        path = directory + "/presses.log"
        counter = presscount.PressCounter(path, block=4)
        assert [counter.take() for _ in range(6)] == [0, 1, 2, 3, 4, 5]
        counter.close()
        rebooted = presscount.PressCounter(path, block=4)
        assert rebooted.take() == 8  # 6 and 7 were reserved by the last boot: skipped, never reused
        rebooted.close()
    finally:
        remove_tree(directory)


def test_only_every_block_th_press_writes_flash():
    directory = tmpdir()
    try:
        path = directory + "/presses.log"
        counter = presscount.PressCounter(path, block=16)
        sizes = []
        for _ in range(32):
            counter.take()
            sizes.append(file_size(path))
        record = records.frame_size(4)
        assert (sizes[0], sizes[15]) == (record, record)
        assert (sizes[16], sizes[31]) == (2 * record, 2 * record)
        counter.close()
    finally:
        remove_tree(directory)


def test_a_torn_reservation_was_never_handed_out():
    directory = tmpdir()
    try:
        path = directory + "/presses.log"
        counter = presscount.PressCounter(path, block=4)
        for _ in range(5):  # 0..3 in the first block, 4 opens the second (end 8)
            counter.take()
        counter.close()
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:  # power lost in the middle of the second reservation's write
            f.write(data[: len(data) - 3])
        rebooted = presscount.PressCounter(path, block=4)
        # Only the first reservation (end 4) is durable, and take() returned 4 only after the second
        # was: a torn second record means 4 was never handed out, so starting at 4 repeats nothing.
        assert rebooted.take() == 4
        rebooted.close()
    finally:
        remove_tree(directory)


def test_the_log_stays_small_over_many_presses():
    directory = tmpdir()
    try:
        path = directory + "/presses.log"
        counter = presscount.PressCounter(path, block=1)
        for _ in range(2000):
            counter.take()
        assert file_size(path) < records.COMPACT_MIN_BYTES
        counter.close()
        rebooted = presscount.PressCounter(path, block=1)
        assert rebooted.take() == 2000
        rebooted.close()
    finally:
        remove_tree(directory)
