"""The seed system's legacy command: {"event": ..., "reportedTime": ...} (docs/protocol.md).

reportedTime is an ISO-8601 UTC string or a number (Unix seconds, or milliseconds above 10^11)
and becomes issued_at; the dedup id is "legacy:<event>:<reportedTime as sent>"; the TTL is the
device default. Parsed without CPython-only libraries (no datetime, no re).
"""

from command import EVENTS, MAX_TIME, R_EVENT, Command, rejected, unix_seconds, valid_id

LEGACY_MS_ABOVE = 10**11
R_REPORTED = "reportedTime: expected YYYY-MM-DDTHH:MM:SS[.fff]Z or Unix seconds/milliseconds"
R_LEGACY_ID = "reportedTime: the legacy id would not be 1-64 characters from [A-Za-z0-9_.:-]"


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


def parse(payload, message, default_ttl_s):
    """The Command for a decoded legacy message (it has "reportedTime" and no "v")."""
    event = message.get("event")
    bowls = EVENTS.get(event) if type(event) is str else None
    if bowls is None:
        return rejected(R_EVENT)
    reported = message["reportedTime"]
    if type(reported) is str:
        issued_at = parse_iso_utc(reported)
        text = reported
    elif type(reported) is int or type(reported) is float:
        # NaN fails every comparison, so it stays out of range; int() only runs on a finite number.
        seconds = reported // 1000 if reported > LEGACY_MS_ABOVE else reported
        issued_at = unix_seconds(int(seconds)) if 0 <= seconds <= MAX_TIME else None
        if issued_at is None:
            text = None
        elif type(reported) is int:
            text = str(reported)  # a JSON integer has one spelling, so this is the text as sent
        else:
            text = _number_text(payload, reported)
    else:
        issued_at = text = None
    if issued_at is None or text is None:
        return rejected(R_REPORTED)
    command_id = "legacy:" + event + ":" + text
    if not valid_id(command_id):
        return rejected(R_LEGACY_ID)
    return Command(command_id, bowls, issued_at, default_ttl_s, None)
