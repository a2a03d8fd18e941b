"""A sample of the command fuzzer (tests/fuzz/test_fuzz_command.py, Hypothesis on CPython) that runs on
MicroPython as well: a tiny seeded generator mutates valid commands (fields replaced by values at and past
the bounds, bytes cut, flipped or inserted); each parses without raising, and fed to the feeder moves no
servo unless its result is `dispensed`."""

import command
from feederrig import NOW, Rig

SEED = 25
ROUNDS = 150
# Field values at and past the protocol's bounds (docs/protocol.md, "Bounds").
VALUES = (
    b"0",
    b"1",
    b"-1",
    b"4294967295",
    b"4294967296",
    b"10000000000000000000000000000000000000000",
    b"1.5",
    b"1e999",
    b"true",
    b"null",
    b'""',
    b'"x"',
    b"[]",
    b"{}",
    b'"\\ud800"',
    b'"' + b"i" * 65 + b'"',
)
FIELDS = (b"v", b"id", b"event", b"issued_at", b"ttl", b"reportedTime")


class Draw:
    """A linear congruential generator: the same sequence on both interpreters."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.state >> 8) % n  # the low bits of an LCG cycle quickly


def valid(draw):
    event = (b"SINGLE", b"DOUBLE", b"LONG")[draw.below(3)]
    if draw.below(4) == 0:
        return b'{"event": "' + event + b'", "reportedTime": %d}' % (NOW - draw.below(100))
    return b'{"v": 1, "id": "press-%d", "event": "%s", "issued_at": %d}' % (
        draw.below(10**6),
        event,
        NOW - draw.below(100),
    )


def mutate(draw, payload):
    data = bytearray(payload)
    for _ in range(1 + draw.below(3)):
        action = draw.below(4)
        at = draw.below(len(data) + 1)
        if action == 0:
            data = data[:at]
        elif action == 1 and at < len(data):
            data[at] ^= 1 + draw.below(255)
        elif action == 2:
            data[at:at] = bytes([draw.below(256)])
        else:  # a field set to a value at or past a bound (the last of two equal keys wins)
            field = FIELDS[draw.below(len(FIELDS))]
            data = data[: data.rfind(b"}")] + b', "%s": %s}' % (field, VALUES[draw.below(len(VALUES))])
    return bytes(data)


def test_mutated_commands_parse_without_raising_and_move_nothing_unless_dispensed():
    draw = Draw(SEED)
    rig = Rig()
    try:
        outcomes = {}
        for _ in range(ROUNDS):
            payload = mutate(draw, valid(draw))
            parsed = command.parse(payload, 300, 3600)
            assert parsed.reason is None or parsed.bowls == 0, payload
            moved = len(rig.pins_moved())
            status = rig.decide(payload)["status"]
            assert status == "dispensed" or len(rig.pins_moved()) == moved, payload
            outcomes[status] = outcomes.get(status, 0) + 1
        # The sample reaches both sides of the parser.
        assert outcomes.get("rejected", 0) > 0 and len(outcomes) > 1, outcomes
    finally:
        rig.close()
