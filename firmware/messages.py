"""Device → cloud results: their compact stored form and their JSON (docs/protocol.md). Status and
telemetry messages, sent rarely, are in reports.py.

A result is stored in the flash outbox in binary, because every stored byte costs flash
wear (budget: 128 B per dispensed command, journal records included), and rendered to JSON
only when it is published. Stored layout, little-endian:

    u32 at | u8 status | u8 bowls | u8 id length (255 = no id) | id (ASCII) | [u32 due] | reason (UTF-8, rest)

A dispensed result with a 14-character id is 21 bytes. A scheduled feeding's result (schedule.py)
has the status byte's bit 7 set and its occurrence's `due` after the id (4 bytes more); a result
whose id starts `sch-` is rendered with `"origin": "schedule"` (also one restore.py reports
`interrupted` at boot, which knows no `due`). The seq is not stored here: the
outbox assigns it and hands it to render().
"""

import json
import struct

from micropython import const

DISPENSED = 0
DUPLICATE = 1
EXPIRED = 2
REJECTED = 3
INTERRUPTED = 4
CAPPED = 5
MISSED = 6  # a scheduled occurrence found overdue by more than its grace (schedule.py)
SKIPPED = 7  # a scheduled occurrence due while paused, or the one the schedule's `skip` names
STATUS_NAMES = ("dispensed", "duplicate", "expired", "rejected", "interrupted", "capped", "missed", "skipped")
SCHEDULE_PREFIX = "sch-"  # the ids of scheduled occurrences (schedule.py)

HEADER = "<IBBB"
_HEADER_LEN = const(7)
_NO_ID = const(255)
_HAS_DUE = const(0x80)  # status byte: a u32 due follows the id
_MAX_AT = const(0xFFFFFFFF)
# Indexed by bowls mask (bit0 = left, bit1 = right); the JSON spelling matches the protocol's examples.
BOWLS_JSON = ("[]", '["left"]', '["right"]', '["left", "right"]')


def pack_result(command_id, status, bowls, at, reason, due=0):
    """Stored form of one result; command_id and reason may be None. due > 0: a scheduled occurrence's."""
    if not 0 <= at <= _MAX_AT:
        at = 0  # a clock this wrong has no meaningful value; 0 marks it as unknown
    id_bytes = b"" if command_id is None else command_id.encode()
    header = struct.pack(HEADER, at, status, bowls, _NO_ID if command_id is None else len(id_bytes))
    if due > 0:
        header = struct.pack(HEADER, at, status | _HAS_DUE, bowls, len(id_bytes))
        id_bytes += struct.pack("<I", due)
    if reason is None:
        return header + id_bytes
    return header + id_bytes + reason.encode()


def result_id(packed):
    """The command id stored in a packed result, or None."""
    id_len = packed[6]
    if id_len == _NO_ID:
        return None
    return bytes(packed[_HEADER_LEN : _HEADER_LEN + id_len]).decode()


def render(thing, seq, packed):
    """JSON of a stored result, with the seq the outbox gave it."""
    at, status, bowls, id_len = struct.unpack_from(HEADER, packed, 0)
    plain_id = result_id(packed)
    command_id = json.dumps(plain_id)
    reason_at = _HEADER_LEN if id_len == _NO_ID else _HEADER_LEN + id_len
    extra = ""  # origin, due and reason, each with its trailing comma
    if plain_id is not None and plain_id.startswith(SCHEDULE_PREFIX):
        extra = '"origin": "schedule", '
    if status & _HAS_DUE:
        extra += '"due": %d, ' % struct.unpack_from("<I", packed, reason_at)[0]
        reason_at += 4
        status &= ~_HAS_DUE
    if status == REJECTED or status == CAPPED:
        extra += '"reason": %s, ' % json.dumps(bytes(packed[reason_at:]).decode())
    head = '{"v": 1, "type": "result", "thing": %s, "seq": %d, "id": %s, ' % (
        json.dumps(thing),
        seq,
        command_id,
    )
    tail = '"status": "%s", "bowls": %s, %s"at": %d}' % (
        STATUS_NAMES[status],
        BOWLS_JSON[bowls & 3],
        extra,
        at,
    )
    return (head + tail).encode()
