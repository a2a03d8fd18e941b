"""command.py: valid commands parse, legacy ones keep their dedup id, and no input makes it raise."""

import os

import command
import expiry
import legacy
from servo import LEFT, RIGHT

DEFAULT_TTL = 300
MAX_TTL = 3600


def parse(payload):
    return command.parse(payload, DEFAULT_TTL, MAX_TTL)


def reason_of(payload):
    cmd = parse(payload)
    assert cmd.reason is not None, payload
    assert cmd.bowls == 0
    return cmd.reason


def v1(**fields):
    """A valid v1 command with fields overridden; a value of None removes the field."""
    body = {"v": "1", "id": '"press-7f3a9c2e"', "event": '"SINGLE"', "issued_at": "1795730000"}
    for key in fields:
        body[key] = fields[key]
    return ("{" + ", ".join('"%s": %s' % (k, body[k]) for k in body if body[k] is not None) + "}").encode()


def test_valid_command():
    cmd = parse(b'{"v": 1, "id": "press-7f3a9c2e", "event": "SINGLE", "issued_at": 1795730000, "ttl": 120}')
    assert cmd.reason is None
    assert (cmd.id, cmd.bowls, cmd.issued_at, cmd.ttl) == ("press-7f3a9c2e", LEFT, 1795730000, 120)


def test_events_map_to_bowls():
    assert parse(v1(event='"SINGLE"')).bowls == LEFT
    assert parse(v1(event='"DOUBLE"')).bowls == RIGHT
    assert parse(v1(event='"LONG"')).bowls == LEFT | RIGHT


def test_ttl_defaults_and_is_clamped():
    assert parse(v1()).ttl == DEFAULT_TTL
    assert parse(v1(ttl="0")).ttl == 0
    assert parse(v1(ttl="999999999999999999999")).ttl == MAX_TTL


def test_float_issued_at_is_rejected_with_the_reason():
    # Single precision on the ESP32 port: 1795730000.9 would become a time 128 s away.
    for text in ("1795730000.9", "1795730000.0", "1.7957e9"):
        cmd = parse(v1(issued_at=text))
        assert cmd.reason == command.R_ISSUED_AT_FLOAT, text
        assert cmd.id == "press-7f3a9c2e" and cmd.bowls == 0


def test_unknown_fields_are_ignored():
    assert parse(v1(extra='{"nested": [1, 2, {"x": null}]}')).reason is None


def test_wrong_values_name_the_field():
    cases = (
        (v1(v="2"), "v: "),
        (v1(v="true"), "v: "),
        (v1(v="1.0"), "v: "),
        (v1(v='"1"'), "v: "),
        (v1(v=None), "v: "),
        (v1(id='""'), "id: "),
        (v1(id='"has space"'), "id: "),
        (v1(id='"' + "a" * 65 + '"'), "id: "),
        (v1(id="7"), "id: "),
        (v1(id='"caf\\u00e9"'), "id: "),
        (v1(id=None), "id: "),
        (v1(event='"single"'), "event: "),
        (v1(event='"FEED"'), "event: "),
        (v1(event='["SINGLE"]'), "event: "),
        (v1(event=None), "event: "),
        (v1(issued_at="true"), "issued_at: "),
        (v1(issued_at='"1795730000"'), "issued_at: "),
        (v1(issued_at="-1"), "issued_at: "),
        (v1(issued_at="1e999"), "issued_at: "),
        (v1(issued_at="-1e999"), "issued_at: "),
        (v1(issued_at="123456789012345678901234567890"), "issued_at: "),
        (v1(issued_at="null"), "issued_at: "),
        (v1(ttl="true"), "ttl: "),
        (v1(ttl="-5"), "ttl: "),
        (v1(ttl="1.5"), "ttl: "),
        (v1(ttl='"60"'), "ttl: "),
    )
    for payload, field in cases:
        reason = reason_of(payload)
        assert reason.startswith(field), (payload, reason)


def test_rejection_keeps_a_readable_id():
    assert parse(v1(event='"FEED"')).id == "press-7f3a9c2e"
    assert parse(v1(id='"bad id"')).id is None
    assert parse(v1(v="2", id='"bad id"')).id is None


def test_unknown_version_with_a_readable_id_names_it():
    for version in ("2", '"1"', "null", "1.0"):
        cmd = parse(v1(v=version))
        assert (cmd.reason, cmd.id) == (command.R_VERSION, "press-7f3a9c2e"), version
    assert parse(v1(v=None)).id == "press-7f3a9c2e"


def test_not_json_objects_are_rejected():
    for payload in (b"", b"null", b"true", b"1", b'"text"', b"[]", b"[1, 2]", b"{", b"{}}", b"\xff\xfe\xfd"):
        reason = reason_of(payload)
        assert reason.startswith("payload: ") or reason.startswith("v: "), (payload, reason)
    assert reason_of(b"{}") == command.R_VERSION
    assert reason_of(b'{"id": "a"\x00}') == command.R_JSON
    assert reason_of(b'{"id": "\xc3\x28"}') == command.R_JSON


def test_non_bytes_is_rejected():
    for payload in (None, 5, "text", [b"x"], {"v": 1}):
        assert reason_of(payload) == command.R_TYPE


def test_oversized_payloads_are_rejected_before_parsing():
    # 1024 bytes of valid JSON pass; one byte more is refused even though it is valid JSON too.
    pad = 1024 - len(v1(pad='""'))
    assert parse(v1(pad='"' + "x" * pad + '"')).reason is None
    assert reason_of(v1(pad='"' + "x" * (pad + 1) + '"')) == command.R_SIZE
    try:
        huge = b"[" * (100 * 1024)
    except MemoryError:
        # The 64K MicroPython test heap cannot hold 100 KiB (its largest free block is under 8 KiB).
        huge = b"[" * (4 * 1024)
    assert reason_of(huge) == command.R_SIZE


def test_deep_nesting_does_not_crash():
    depth = 500
    assert reason_of(b"[" * depth + b"]" * depth) == command.R_OBJECT
    assert reason_of(b'{"a":' * 150 + b"1" + b"}" * 150) == command.R_VERSION


def test_random_and_mutated_payloads_never_raise():
    valid = v1(ttl="60")
    state = 12345
    for i in range(1500):
        if i % 3 == 0:
            payload = os.urandom(i % 97)
        else:
            # Deterministic mutations of a valid command: overwrite one byte with a JSON-significant one.
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            at = state % len(valid)
            payload = valid[:at] + b'{}[]",:0-e.\\ \xff'[state % 15 : state % 15 + 1] + valid[at + 1 :]
        cmd = parse(payload)
        assert (cmd.reason is None) == (cmd.bowls != 0)


def test_legacy_iso_time():
    cmd = parse(b'{"event": "LONG", "reportedTime": "2026-11-26T21:03:11.512Z"}')
    assert cmd.reason is None
    assert cmd.id == "legacy:LONG:2026-11-26T21:03:11.512Z"
    assert cmd.bowls == LEFT | RIGHT
    assert cmd.issued_at == 1795726991
    assert cmd.ttl == DEFAULT_TTL
    assert parse(b'{"event": "SINGLE", "reportedTime": "2026-11-26T21:03:11Z"}').issued_at == 1795726991


def test_legacy_numbers_are_seconds_or_milliseconds():
    cmd = parse(b'{"event": "DOUBLE", "reportedTime": 1795730000}')
    assert (cmd.id, cmd.issued_at, cmd.bowls) == ("legacy:DOUBLE:1795730000", 1795730000, RIGHT)
    cmd = parse(b'{"event": "SINGLE", "reportedTime": 1795730000512}')
    assert (cmd.id, cmd.issued_at) == ("legacy:SINGLE:1795730000512", 1795730000)


def test_legacy_float_keeps_its_text_as_sent():
    cmd = parse(b'{"event": "SINGLE", "x": {"reportedTime": 1.5}, "reportedTime" :  1795730000.250}')
    assert cmd.reason is None
    assert cmd.id == "legacy:SINGLE:1795730000.250"
    assert cmd.issued_at == 1795730000
    other = parse(b'{"event": "SINGLE", "reportedTime": 1795730000.375}')
    assert other.id == "legacy:SINGLE:1795730000.375"


def test_legacy_redelivery_has_the_same_id():
    a = parse(b'{"event": "SINGLE", "reportedTime": "2026-11-26T21:03:11.512Z"}')
    b = parse(b'{"reportedTime":"2026-11-26T21:03:11.512Z","event":"SINGLE"}')
    assert a.id == b.id


def test_legacy_bad_values_are_rejected():
    for reported in (
        '"2026-13-01T00:00:00Z"',
        '"2026-02-29T00:00:00Z"',
        '"2026-11-26T24:00:00Z"',
        '"2026-11-26T21:03:11"',
        '"2026-11-26 21:03:11Z"',
        '"2026-11-26T21:03:11.Z"',
        '"2026-11-26T21:03:11+01:00"',
        '"1969-12-31T23:59:59Z"',
        '"yesterday"',
        '""',
        "true",
        "null",
        "-5",
        "1e999",
        "[1795730000]",
    ):
        payload = ('{"event": "SINGLE", "reportedTime": %s}' % reported).encode()
        assert reason_of(payload) == legacy.R_REPORTED, reported
    assert reason_of(b'{"event": "TRIPLE", "reportedTime": 1795730000}') == command.R_EVENT
    long_float = b'{"event": "SINGLE", "reportedTime": 1795730000.' + b"1" * 60 + b"}"
    assert reason_of(long_float) == legacy.R_LEGACY_ID
    assert reason_of(b'{"event": "SINGLE", "reportedTime": 1.7957300E+9}') == legacy.R_LEGACY_ID


def test_leap_day_and_epoch():
    assert legacy.parse_iso_utc("1970-01-01T00:00:01Z") == 1
    assert legacy.parse_iso_utc("1970-01-01T00:00:00Z") is None  # 0 is no time (docs/protocol.md, "Bounds")
    assert legacy.parse_iso_utc("2000-02-29T23:59:59.9Z") == 951868799
    assert legacy.parse_iso_utc("2001-02-29T00:00:00Z") is None


def test_expiry_boundaries():
    assert not expiry.expired(1000, 300, 1300)
    assert expiry.expired(1000, 300, 1301)
    assert not expiry.from_future(1000 + expiry.FUTURE_SKEW_S, 1000)
    assert expiry.from_future(1001 + expiry.FUTURE_SKEW_S, 1000)
