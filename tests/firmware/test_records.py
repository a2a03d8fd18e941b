"""records.py: CRC framing, skipping corrupt records, cutting a torn tail, atomic compaction."""

import os

import records
from fwtest import file_size, raises, remove_tree, tmpdir


def read_all(path):
    got = []
    log = records.Log(path)
    log.load(lambda kind, body: got.append((kind, bytes(body))))
    return log, got


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def flip_bit(path, offset):
    data = bytearray(read_bytes(path))
    data[offset] ^= 0x10
    write_bytes(path, data)


def filled_log(directory, bodies):
    path = directory + "/r.log"
    log, _ = read_all(path)
    ends = []
    for i, body in enumerate(bodies):
        log.append(i + 1, body)
        ends.append(log.size)
    log.close()
    return path, ends


def test_records_round_trip_with_short_and_two_byte_lengths():
    directory = tmpdir()
    try:
        bodies = [b"", b"a", b"x" * 126, b"y" * 127, b"z" * records.MAX_BODY]
        path, ends = filled_log(directory, bodies)
        assert file_size(path) == ends[-1]
        assert ends[0] == records.frame_size(0) == 6
        assert ends[2] - ends[1] == records.frame_size(126) == 132  # length 127 still fits one byte
        assert ends[3] - ends[2] == records.frame_size(127) == 134  # length 128 takes two
        log, got = read_all(path)
        assert got == [(i + 1, body) for i, body in enumerate(bodies)]
        assert (log.size, log.skipped, log.cut) == (ends[-1], 0, 0)
        log.close()
    finally:
        remove_tree(directory)


def test_body_over_the_limit_is_refused_and_nothing_written():
    directory = tmpdir()
    try:
        log, _ = read_all(directory + "/r.log")
        raises(ValueError, log.append, 1, b"x" * (records.MAX_BODY + 1))
        log.close()
        assert file_size(directory + "/r.log") == 0
    finally:
        remove_tree(directory)


def test_bit_flip_in_a_middle_record_skips_only_that_record():
    directory = tmpdir()
    try:
        path, ends = filled_log(directory, [b"first", b"second", b"third"])
        flip_bit(path, ends[0] + 3)  # inside "second"
        log, got = read_all(path)
        assert got == [(1, b"first"), (3, b"third")]
        assert log.skipped == 1 and log.cut == 0
        log.close()
    finally:
        remove_tree(directory)


def test_bit_flip_in_a_length_byte_resynchronises_on_the_next_record():
    directory = tmpdir()
    try:
        path, ends = filled_log(directory, [b"first", b"second", b"third"])
        flip_bit(path, ends[0])  # the length of "second"
        log, got = read_all(path)
        assert got == [(1, b"first"), (3, b"third")]
        assert log.skipped == 1
        log.close()
    finally:
        remove_tree(directory)


def test_corrupt_last_record_is_cut_before_the_next_append():
    directory = tmpdir()
    try:
        path, ends = filled_log(directory, [b"first", b"second"])
        flip_bit(path, ends[1] - 1)  # the CRC of "second"
        log, got = read_all(path)
        assert got == [(1, b"first")]
        assert log.cut == ends[1] - ends[0] and file_size(path) == ends[0]
        log.append(9, b"after")
        log.close()
        assert read_all(path)[1] == [(1, b"first"), (9, b"after")]
    finally:
        remove_tree(directory)


def test_unfinished_compaction_tmp_is_discarded():
    directory = tmpdir()
    try:
        path, _ = filled_log(directory, [b"kept"])
        write_bytes(path + ".tmp", b"\x05\x01half")
        log, got = read_all(path)
        assert got == [(1, b"kept")]
        assert "r.log.tmp" not in os.listdir(directory)
        log.close()
    finally:
        remove_tree(directory)


def test_finished_compaction_tmp_replaces_a_removed_original():
    directory = tmpdir()
    try:
        path, _ = filled_log(directory, [b"compacted"])
        os.rename(path, path + ".tmp")  # FAT-style replace: original removed, rename not yet done
        log, got = read_all(path)
        assert got == [(1, b"compacted")]
        assert os.listdir(directory) == ["r.log"]
        log.close()
    finally:
        remove_tree(directory)


def test_compaction_only_when_it_pays_and_its_bytes_are_counted():
    directory = tmpdir()
    try:
        path = directory + "/r.log"
        log, _ = read_all(path)
        body = b"b" * 94  # 100-byte frames

        def emit_one(emit):
            emit(7, body)
            return True

        while log.size < records.COMPACT_MIN_BYTES - 100:
            log.append(1, body)
        log.compact_if_it_pays(lambda: 100, emit_one)
        assert log.size >= records.COMPACT_MIN_BYTES - 200  # small files are left alone
        log.append(1, body)
        log.compact_if_it_pays(lambda: log.size // 2, emit_one)
        assert log.size >= records.COMPACT_MIN_BYTES  # still half live: not worth it
        before = records.bytes_written
        log.compact_if_it_pays(lambda: 100, emit_one)
        assert log.size == 100 == file_size(path)
        assert records.bytes_written - before == 100
        log.append(2, b"next")
        log.close()
        assert read_all(path)[1] == [(7, body), (2, b"next")]
    finally:
        remove_tree(directory)


def test_every_appended_byte_is_counted():
    directory = tmpdir()
    try:
        log, _ = read_all(directory + "/r.log")
        before = records.bytes_written
        log.append(1, b"12345")
        log.append(2, b"x" * 200)
        assert records.bytes_written - before == records.frame_size(5) + records.frame_size(200) == log.size
        log.close()
    finally:
        remove_tree(directory)


def test_abandoned_rewrite_keeps_the_original():
    directory = tmpdir()
    try:
        path, ends = filled_log(directory, [b"one", b"two"])
        log, _ = read_all(path)

        def give_up(emit):
            emit(1, b"partial")
            return False

        log.rewrite(give_up)
        assert log.size == ends[-1] and os.listdir(directory) == ["r.log"]
        log.append(3, b"three")
        log.close()
        assert read_all(path)[1] == [(1, b"one"), (2, b"two"), (3, b"three")]
    finally:
        remove_tree(directory)


def test_head_and_body_make_one_record():
    directory = tmpdir()
    try:
        log, _ = read_all(directory + "/r.log")
        log.append(4, b"\x01\x02", b"rest")
        log.append(5, memoryview(b"xhead")[1:], b"")
        log.close()
        assert read_all(directory + "/r.log")[1] == [(4, b"\x01\x02rest"), (5, b"head")]
    finally:
        remove_tree(directory)
