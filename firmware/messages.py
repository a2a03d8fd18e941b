"""Device → cloud messages: the compact stored form of a result and its JSON (docs/protocol.md).

A result is stored in the flash outbox in binary, because every stored byte costs flash
wear (budget: 128 B per dispensed command, journal records included), and rendered to JSON
only when it is published. Stored layout, little-endian:

    u32 at | u8 status | u8 bowls | u8 id length (255 = no id) | id (ASCII) | reason (UTF-8, rest)

A dispensed result with a 14-character id is 21 bytes. The seq is not stored here: the
outbox assigns it and hands it to render().
"""

import json
import struct

DISPENSED = 0
DUPLICATE = 1
EXPIRED = 2
REJECTED = 3
INTERRUPTED = 4
CAPPED = 5
STATUS_NAMES = ("dispensed", "duplicate", "expired", "rejected", "interrupted", "capped")

HEADER = "<IBBB"
HEADER_LEN = 7
NO_ID = 255
MAX_AT = 0xFFFFFFFF
# Indexed by bowls mask (bit0 = left, bit1 = right); the JSON spelling matches the protocol's examples.
BOWLS_JSON = ("[]", '["left"]', '["right"]', '["left", "right"]')


def pack_result(command_id, status, bowls, at, reason):
    """Stored form of one result; command_id and reason may be None."""
    if not 0 <= at <= MAX_AT:
        at = 0  # a clock this wrong has no meaningful value; 0 marks it as unknown
    id_bytes = b"" if command_id is None else command_id.encode()
    header = struct.pack(HEADER, at, status, bowls, NO_ID if command_id is None else len(id_bytes))
    if reason is None:
        return header + id_bytes
    return header + id_bytes + reason.encode()


def result_id(packed):
    """The command id stored in a packed result, or None."""
    id_len = packed[6]
    if id_len == NO_ID:
        return None
    return bytes(packed[HEADER_LEN : HEADER_LEN + id_len]).decode()


def render(thing, seq, packed):
    """JSON of a stored result, with the seq the outbox gave it."""
    at, status, bowls, id_len = struct.unpack_from(HEADER, packed, 0)
    command_id = json.dumps(result_id(packed))
    reason_at = HEADER_LEN if id_len == NO_ID else HEADER_LEN + id_len
    reason = ""
    if status == REJECTED or status == CAPPED:
        reason = '"reason": %s, ' % json.dumps(bytes(packed[reason_at:]).decode())
    head = '{"v": 1, "type": "result", "thing": %s, "seq": %d, "id": %s, ' % (
        json.dumps(thing),
        seq,
        command_id,
    )
    tail = '"status": "%s", "bowls": %s, %s"at": %d}' % (
        STATUS_NAMES[status],
        BOWLS_JSON[bowls & 3],
        reason,
        at,
    )
    return (head + tail).encode()


def status_message(thing, status, at=None):
    """Status `online` (with at) after a connect; `offline` (no at) is the MQTT last will."""
    tail = "" if at is None else ', "at": %d' % at
    text = '{"v": 1, "type": "status", "thing": %s, "status": %s%s}'
    return (text % (json.dumps(thing), json.dumps(status), tail)).encode()


def telemetry_message(thing, uptime_s, heap_free, outbox_depth, dropped, at, link, cap):
    """link: connect_failures and last_error (text or None); cap: the feeding cap's counters (cap.py)."""
    hour = cap.portions_hour
    day = cap.portions_day
    return (
        '{"v": 1, "type": "telemetry", "thing": %s, "uptime_s": %d, "heap_free": %d, "outbox_depth": %d, '
        '"dropped": %d, "connect_failures": %d, "last_error": %s, '
        '"portions_hour": {"left": %d, "right": %d}, "portions_day": {"left": %d, "right": %d}, '
        '"max_portions_per_hour": %d, "max_portions_per_day": %d, "at": %d}'
        % (json.dumps(thing), uptime_s, heap_free, outbox_depth, dropped, link.connect_failures,
           json.dumps(link.last_error), hour[0], hour[1], day[0], day[1], cap.per_hour, cap.per_day, at)
    ).encode()
