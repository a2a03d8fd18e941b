"""Move the journal and the outbox from their log files (records.py, firmware before the small-file
layout) into smallfiles.py's layout. Runs once, at the first boot after the upgrade, and is
imported only then (by restore.py).

Each migration clears the new directory, writes every live record into it, and removes the log
last. A power cut at any point leaves the log in place, so the next boot starts the migration
again from the log: the log stays the truth until the new layout is complete.

The old record formats (records.py frames):
  journal.log  BEGIN 0x10|bowls, DONE 0x30|bowls: slot u8 | began_at u32 | id;  FINISH 0x20: slot u8
               (a later BEGIN naming a taken slot means the earlier id was forgotten)
  outbox.log   PUT 1: seq low byte | payload;  ITEM 2: seq u32 | payload;  ACK 3 / DROP 4: seq u32;
               STATE 5: next_seq u32 | dropped u32
"""

import binascii
import os
import struct

import journal as new_journal  # the new layout's record kinds are theirs
import outbox as new_outbox
import records
from micropython import const
from restore import names

# The logs' record kinds, as the firmware before wrote them (the table above).
_LOG_BEGIN = const(0x10)
_LOG_FINISH = const(0x20)
_LOG_DONE = const(0x30)
_LOG_TYPE_MASK = const(0xF0)
_LOG_BOWLS_MASK = const(0x03)
_LOG_PUT = const(1)
_LOG_ITEM = const(2)
_LOG_ACK = const(3)
_LOG_DROP = const(4)
_LOG_STATE = const(5)


def _clear(files):
    for name in list(names(files)):
        files.remove(name)


def _retire(log_path):
    for path in (log_path + ".tmp", log_path):
        try:
            os.remove(path)
        except OSError:
            pass


def journal(log_path, files):
    slots = {}  # type: dict  # slot -> [bowls, began_at u32 + id, finished]

    def replay(kind, body):
        record_type = kind & _LOG_TYPE_MASK
        if len(body) == 0:
            return
        if record_type == _LOG_FINISH:
            if body[0] in slots:
                slots[body[0]][2] = True
        elif record_type in (_LOG_BEGIN, _LOG_DONE) and len(body) > 5:
            slots[body[0]] = [kind & _LOG_BOWLS_MASK, bytes(body[1:]), record_type == _LOG_DONE]

    log = records.Log(log_path)
    log.load(replay)  # finishes an interrupted compaction and cuts a torn tail first
    log.close()
    _clear(files)
    for slot, (bowls, head_and_id, finished) in slots.items():
        # journal.py's records: BEGIN with the id, or DONE with its crc32.
        if finished:
            crc = struct.pack("<I", binascii.crc32(head_and_id[new_journal.HEAD_LEN :]))
            files.write("%02x" % slot, new_journal.DONE | bowls, head_and_id[: new_journal.HEAD_LEN], crc)
        else:
            files.write("%02x" % slot, new_journal.BEGIN | bowls, head_and_id)
    _retire(log_path)


def outbox(log_path, files):
    state = [1, 0]  # next_seq, dropped
    waiting = {}  # seq -> payload

    def replay(kind, body):
        if kind == _LOG_PUT and len(body) > 0:
            seq = state[0] + ((body[0] - state[0]) & 0xFF)
            waiting[seq] = bytes(body[1:])
            state[0] = max(state[0], seq + 1)
        elif kind == _LOG_ITEM and len(body) >= 4:
            seq = struct.unpack_from("<I", body, 0)[0]
            waiting[seq] = bytes(body[4:])
            state[0] = max(state[0], seq + 1)
        elif kind in (_LOG_ACK, _LOG_DROP) and len(body) == 4:
            seq = struct.unpack_from("<I", body, 0)[0]
            if waiting.pop(seq, None) is not None and kind == _LOG_DROP:
                state[1] += 1
        elif kind == _LOG_STATE and len(body) == 8:
            next_seq, state[1] = struct.unpack_from("<II", body, 0)
            state[0] = max(state[0], next_seq)

    log = records.Log(log_path)
    log.load(replay)
    log.close()
    _clear(files)
    head = bytearray(12)
    index = 0
    for seq, payload in waiting.items():  # into pool files 0, 1, ... (outbox.py)
        struct.pack_into("<I", head, 0, seq)
        files.write("%d" % index, new_outbox.PUT, memoryview(head)[:4], payload)
        index += 1
    struct.pack_into("<III", head, 0, state[0], state[1], 0)
    # next_seq and dropped, even with nothing waiting
    files.write(new_outbox.STATE_FILES[0], new_outbox.STATE, head)
    _retire(log_path)
