"""Hypothesis strategies the fuzzers share: a valid message, then mutated as a hostile sender would (a
field dropped, replaced by any JSON value or by a value at or past a bound, an extra field, the bytes cut,
flipped or padded). Settings (examples per property) come from the profile in tests/conftest.py."""

import json

from hypothesis import strategies as st

# Values at and past the protocol's bounds (docs/protocol.md, "Bounds"), besides whatever Hypothesis draws.
EDGES = st.sampled_from(
    [
        0,
        1,
        -1,
        2**31,
        2**32 - 1,
        2**32,
        2**53 + 1,
        10**40,
        -(10**40),
        1.5,
        1e300,
        True,
        False,
        None,
        "",
        "x" * 300,
        "\u0000",
        "\ud800",
        [],
        {},
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | EDGES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def encode(message):
    """JSON as a sender writes it; a lone surrogate goes out as its escape, as any JSON encoder allows."""
    return json.dumps(message).encode()


@st.composite
def mutated_fields(draw, valid):
    """A dict from the `valid` strategy with some fields dropped, replaced or added."""
    message = dict(draw(valid))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(("drop", "replace", "add")))
        if action == "drop" and message:
            message.pop(draw(st.sampled_from(sorted(message))))
        elif action == "replace" and message:
            message[draw(st.sampled_from(sorted(message)))] = draw(JSON_VALUES)
        else:
            message[draw(st.text(max_size=8))] = draw(JSON_VALUES)
    return message


@st.composite
def mutated_bytes(draw, payload):
    """payload (bytes) cut, with bytes flipped, or with bytes inserted."""
    data = bytearray(payload)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(("cut", "flip", "insert")))
        at = draw(st.integers(0, len(data)))
        if action == "cut":
            del data[at:]
        elif action == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def hostile(valid):
    """Payloads (bytes) from a strategy of valid dicts: valid, field-mutated, byte-mutated, or any bytes."""
    fields = mutated_fields(valid).map(encode)
    return st.one_of(
        valid.map(encode),
        fields,
        fields.flatmap(mutated_bytes),
        st.binary(max_size=64),
        st.builds(lambda value: encode(value), JSON_VALUES),
    )
