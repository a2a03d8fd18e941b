"""Parse and validate a command payload (docs/protocol.md, "Command" and "Legacy command").

`parse(payload, default_ttl_s, max_ttl_s)` never raises: it returns a Command whose
`reason` is None when the command is well formed, or a fixed text naming the field at fault.
`id` is set whenever one could be read, so a rejection can still name the command.

Numbers: `type(x) is int` is the only int test used, because bool is an int subclass on
CPython (and not on MicroPython); JSON floats are accepted where the protocol allows a
number. On the ESP32 port floats are single precision (about 2 minutes of resolution at
today's Unix times), so the cloud sends integer seconds; a legacy float `reportedTime`
keeps its exact text for the dedup id (see _number_text).
"""

import json

MAX_PAYLOAD = 1024
MAX_ID_LEN = 64
ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-"
LEFT = 1
RIGHT = 2
EVENTS = {"SINGLE": LEFT, "DOUBLE": RIGHT, "LONG": LEFT | RIGHT}
# Unix seconds we accept as a time at all (to 2106, the u32 range the result encoding uses).
MAX_TIME = 0xFFFFFFFF
LEGACY_MS_ABOVE = 10**11

# Reasons are constants so a rejection allocates no text.
R_SIZE = "payload: over 1024 bytes"
R_TYPE = "payload: expected bytes"
R_JSON = "payload: not UTF-8 JSON"
R_OBJECT = "payload: expected a JSON object"
R_VERSION = "v: expected 1"
R_ID = "id: expected 1-64 characters from [A-Za-z0-9_.:-]"
R_EVENT = "event: expected SINGLE, DOUBLE or LONG"
R_ISSUED_AT = "issued_at: expected Unix seconds, int or float"
R_TTL = "ttl: expected int >= 0"
R_REPORTED = "reportedTime: expected YYYY-MM-DDTHH:MM:SS[.fff]Z or Unix seconds/milliseconds"
R_LEGACY_ID = "reportedTime: the legacy id would not be 1-64 characters from [A-Za-z0-9_.:-]"


class Command:
    __slots__ = ("id", "bowls", "issued_at", "ttl", "reason")

    def __init__(self, command_id, bowls, issued_at, ttl, reason):
        self.id = command_id
        self.bowls = bowls
        self.issued_at = issued_at
        self.ttl = ttl
        self.reason = reason


def _rejected(reason, command_id=None):
    return Command(command_id, 0, 0, 0, reason)


def valid_id(value):
    if type(value) is not str or not 1 <= len(value) <= MAX_ID_LEN:
        return False
    for ch in value:
        if ch not in ID_CHARS:
            return False
    return True


def unix_seconds(value):
    """A JSON number as whole Unix seconds, or None when it is not a finite time in range."""
    if type(value) is float:
        # NaN fails every comparison; inf and huge values fail the range check.
        if not 0 <= value <= MAX_TIME:
            return None
        return int(value)
    if type(value) is int and 0 <= value <= MAX_TIME:
        return value
    return None


def _digits(text, start, count):
    """The non-negative int written by text[start:start+count], or -1 when not all digits."""
    n = 0
    for i in range(start, start + count):
        d = ord(text[i]) - 48
        if not 0 <= d <= 9:
            return -1
        n = n * 10 + d
    return n


def _days_from_civil(year, month, day):
    # Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic Gregorian calendar.
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(year, month):
    if month == 2:
        return 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_iso_utc(text):
    """Unix seconds of "YYYY-MM-DDTHH:MM:SS[.f+]Z" (fraction truncated), or None if ill-formed."""
    n = len(text)
    if n < 20 or n > 30 or text[n - 1] != "Z":
        return None
    for i, sep in ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")):
        if text[i] != sep:
            return None
    if n > 20 and (text[19] != "." or n == 21 or _digits(text, 20, n - 21) < 0):
        return None
    year = _digits(text, 0, 4)
    month = _digits(text, 5, 2)
    day = _digits(text, 8, 2)
    hour = _digits(text, 11, 2)
    minute = _digits(text, 14, 2)
    second = _digits(text, 17, 2)
    if year < 1970 or not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    if not 0 <= hour <= 23 or not 0 <= minute <= 59 or not 0 <= second <= 59:
        return None
    return unix_seconds(_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second)


def _number_text(payload, value):
    """The text of the top-level "reportedTime" number exactly as sent, or None.

    A float's repr differs between interpreters and, with single-precision floats, maps
    different presses to the same text, so the dedup id uses the sender's own digits. Inside
    a JSON string a quote is always escaped, so b'"reportedTime"' followed by ':' is a key;
    the token must parse back to the decoded value, which skips a nested object's key.
    """
    key = b'"reportedTime"'
    at = payload.find(key)
    while at >= 0:
        i = at + len(key)
        while i < len(payload) and payload[i] in b" \t\r\n":
            i += 1
        if i < len(payload) and payload[i] == 58:  # ':'
            i += 1
            while i < len(payload) and payload[i] in b" \t\r\n":
                i += 1
            start = i
            while i < len(payload) and payload[i] in b"0123456789+-.eE":
                i += 1
            token = payload[start:i].decode()
            try:
                if float(token) == value:
                    return token
            except ValueError:
                pass
        at = payload.find(key, at + 1)
    return None


def _legacy(payload, message, default_ttl_s):
    event = message.get("event")
    bowls = EVENTS.get(event) if type(event) is str else None
    if bowls is None:
        return _rejected(R_EVENT)
    reported = message["reportedTime"]
    if type(reported) is str:
        issued_at = parse_iso_utc(reported)
        text = reported
    elif type(reported) is int or type(reported) is float:
        issued_at = unix_seconds(reported // 1000 if reported > LEGACY_MS_ABOVE else reported)
        if issued_at is None:
            text = None
        elif type(reported) is int:
            text = str(reported)  # a JSON integer has one spelling, so this is the text as sent
        else:
            text = _number_text(payload, reported)
    else:
        issued_at = text = None
    if issued_at is None or text is None:
        return _rejected(R_REPORTED)
    command_id = "legacy:" + event + ":" + text
    if not valid_id(command_id):
        return _rejected(R_LEGACY_ID)
    return Command(command_id, bowls, issued_at, default_ttl_s, None)


def _v1(message, default_ttl_s, max_ttl_s):
    version = message.get("v")
    if type(version) is not int or version != 1:
        return _rejected(R_VERSION)
    command_id = message.get("id")
    if not valid_id(command_id):
        return _rejected(R_ID)
    event = message.get("event")
    bowls = EVENTS.get(event) if type(event) is str else None
    if bowls is None:
        return _rejected(R_EVENT, command_id)
    issued_at = unix_seconds(message.get("issued_at"))
    if issued_at is None:
        return _rejected(R_ISSUED_AT, command_id)
    ttl = message.get("ttl", default_ttl_s)
    if type(ttl) is not int or ttl < 0:
        return _rejected(R_TTL, command_id)
    # A sender cannot stretch a command's life past max_ttl_s: the journal only remembers
    # ids for that long, so a longer-lived command could be replayed after it is forgotten.
    return Command(command_id, bowls, issued_at, min(ttl, max_ttl_s), None)


def parse(payload, default_ttl_s, max_ttl_s):
    """Decode payload (bytes) into a Command; never raises on any payload."""
    if not isinstance(payload, bytes):
        return _rejected(R_TYPE)
    if len(payload) > MAX_PAYLOAD:
        return _rejected(R_SIZE)
    try:
        message = json.loads(payload)
    except Exception:  # ValueError, UnicodeError (MicroPython), RecursionError (CPython): all a bad payload
        return _rejected(R_JSON)
    if type(message) is not dict:
        return _rejected(R_OBJECT)
    if "v" not in message and "reportedTime" in message:
        return _legacy(payload, message, default_ttl_s)
    return _v1(message, default_ttl_s, max_ttl_s)
