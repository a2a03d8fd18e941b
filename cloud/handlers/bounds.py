"""The protocol's bounds, cloud side (docs/protocol.md, "Bounds"): the one definition the button, states
and feeder handlers and the hub's ingest take them from. The firmware keeps its own constants (it cannot
import this); tests/test_bounds.py checks that both sides and the document agree.

Packed next to each handler that uses it (cloud/topology.py, "shared"), as firmware/press.py is.
"""

import json

MAX_U32 = 2**32 - 1
# Unix seconds, as integers: the device stores a time as an unsigned 32-bit number (to 2106), and
# its floats are single precision. 0 is no time.
MIN_TIME = 1
MAX_TIME = MAX_U32
# A press's seq (the button's flash queue) and a result's seq (the outbox): unsigned 32-bit on the device.
MAX_SEQ = MAX_U32
# The telemetry counters (uptime_s, heap_free, outbox_depth, dropped, connect_failures, ...).
MAX_COUNT = MAX_U32
# A command or press id: 1-64 characters from [A-Za-z0-9_.:-].
MAX_ID = 64
ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")
# A thing name: 1-64 characters from [A-Za-z0-9_-] (firmware/config.py's NAME_CHARS).
MAX_THING = 64
THING_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
# Free text a device sends (a result's reason, telemetry's last_error); an IoT 1-Click deviceId, reportedTime.
MAX_TEXT = 256
# Message sizes in bytes, checked before parsing: a command (the device refuses more), a message to the
# cloud (button press, result, status, telemetry: the hub refuses more), and what the broker carries at all
# (AWS IoT Core's payload limit; the hub's mosquitto refuses a larger packet).
MAX_COMMAND_BYTES = 1024
MAX_MESSAGE_BYTES = 4096
MAX_BROKER_PAYLOAD = 128 * 1024


def is_int(value, low, high):
    """An int (not a bool) within [low, high]."""
    return type(value) is int and low <= value <= high


def is_id(value):
    return type(value) is str and 1 <= len(value) <= MAX_ID and ID_CHARS.issuperset(value)


def is_thing(value):
    return type(value) is str and 1 <= len(value) <= MAX_THING and THING_CHARS.issuperset(value)


def is_text(value):
    return type(value) is str and 1 <= len(value) <= MAX_TEXT


def is_utf8(value):
    """False for a str with a lone surrogate (JSON's "\\ud800" decodes to one), which UTF-8 cannot encode."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def json_size(value):
    """Bytes of value as compact JSON in UTF-8: the size of a message a handler gets already parsed (the
    topic rule parsed it), at most what was sent but for its whitespace. ValueError when value is no JSON
    text at all: NaN or Infinity (Python's parser takes them, RFC 8259 has no such numbers), or a lone
    surrogate (JSON's "\\ud800" decodes to one, which UTF-8 cannot encode)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8"))
