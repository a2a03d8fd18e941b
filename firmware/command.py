"""Parse and validate a command payload (docs/protocol.md, "Command" and "Legacy command").

`parse(payload, default_ttl_s, max_ttl_s)` never raises: it returns a Command whose
`reason` is None when the command is well formed, or a fixed text naming the field at fault.
`id` is set whenever one could be read, so a rejection can still name the command.

Numbers: `type(x) is int` is the only int test used, because bool is an int subclass on
CPython (and not on MicroPython). `issued_at` must be an integer: the ESP32 port's floats are
single precision (spacing 128 s near today's Unix time), so a float time would silently move
a command by up to two minutes; it is rejected with a reason that says so. Only the legacy
format still takes a number of either kind (legacy.py keeps its exact text for the dedup id).
"""

import json

from micropython import const
from servo import LEFT, RIGHT

MAX_PAYLOAD = 1024
_MAX_ID_LEN = const(64)
ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-"
EVENTS = {"SINGLE": LEFT, "DOUBLE": RIGHT, "LONG": LEFT | RIGHT}  # the bowls each event feeds
# Unix seconds we accept as a time at all: 1 to 2106, the u32 range the result encoding uses
# (docs/protocol.md, "Bounds"; tests/test_bounds.py checks the cloud's bounds are these).
MIN_TIME = 1
MAX_TIME = 0xFFFFFFFF

# Reasons are constants so a rejection allocates no text.
R_SIZE = "payload: over 1024 bytes"
R_TYPE = "payload: expected bytes"
R_JSON = "payload: not UTF-8 JSON"
R_OBJECT = "payload: expected a JSON object"
R_VERSION = "v: expected 1"
R_ID = "id: expected 1-64 characters from [A-Za-z0-9_.:-]"
R_EVENT = "event: expected SINGLE, DOUBLE or LONG"
R_ISSUED_AT = "issued_at: expected integer Unix seconds"
R_ISSUED_AT_FLOAT = "issued_at: expected integer Unix seconds, not a float (single precision on the device)"
R_TTL = "ttl: expected int >= 0"


class Command:
    __slots__ = ("id", "bowls", "issued_at", "ttl", "reason")

    def __init__(self, command_id, bowls, issued_at, ttl, reason):
        self.id = command_id
        self.bowls = bowls
        self.issued_at = issued_at
        self.ttl = ttl
        self.reason = reason


def rejected(reason, command_id=None):
    return Command(command_id, 0, 0, 0, reason)


def valid_id(value):
    if type(value) is not str or not 1 <= len(value) <= _MAX_ID_LEN:
        return False
    for ch in value:
        if ch not in ID_CHARS:
            return False
    return True


def unix_seconds(value):
    """An int in the Unix-seconds range we accept, else None."""
    if type(value) is int and MIN_TIME <= value <= MAX_TIME:
        return value
    return None


def _v1(message, default_ttl_s, max_ttl_s):
    command_id = message.get("id")
    if not valid_id(command_id):
        command_id = None
    # A readable id names the rejection even when the version is unknown, so the ledger can
    # tell which press was refused.
    version = message.get("v")
    if type(version) is not int or version != 1:
        return rejected(R_VERSION, command_id)
    if command_id is None:
        return rejected(R_ID)
    event = message.get("event")
    bowls = EVENTS.get(event) if type(event) is str else None
    if bowls is None:
        return rejected(R_EVENT, command_id)
    raw_issued_at = message.get("issued_at")
    issued_at = unix_seconds(raw_issued_at)
    if issued_at is None:
        reason = R_ISSUED_AT_FLOAT if type(raw_issued_at) is float else R_ISSUED_AT
        return rejected(reason, command_id)
    ttl = message.get("ttl", default_ttl_s)
    if type(ttl) is not int or ttl < 0:
        return rejected(R_TTL, command_id)
    # A sender cannot stretch a command's life past max_ttl_s: the journal only remembers
    # ids for that long, so a longer-lived command could be replayed after it is forgotten.
    return Command(command_id, bowls, issued_at, min(ttl, max_ttl_s), None)


def parse(payload, default_ttl_s, max_ttl_s):
    """Decode payload (bytes) into a Command; never raises on any payload."""
    if not isinstance(payload, bytes):
        return rejected(R_TYPE)
    if len(payload) > MAX_PAYLOAD:
        return rejected(R_SIZE)
    try:
        message = json.loads(payload)
    except Exception:  # ValueError, UnicodeError (MicroPython), RecursionError (CPython): all a bad payload
        return rejected(R_JSON)
    if type(message) is not dict:
        return rejected(R_OBJECT)
    if "v" not in message and "reportedTime" in message:
        # Imported on first use: only old senders need it, and RAM is scarce on the board.
        import legacy

        return legacy.parse(payload, message, default_ttl_s)
    return _v1(message, default_ttl_s, max_ttl_s)
