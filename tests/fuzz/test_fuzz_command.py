"""Fuzzing the device's command parser (firmware/command.py, legacy.py) on CPython: every payload is either
accepted with the meaning it was sent with, or refused with a reason, never an exception; and fed to the
feeder (real journal and outbox, sim HAL), nothing moves a servo unless the result is `dispensed`.
A fixed sample runs on MicroPython too (tests/firmware/test_command_mutations.py)."""

import json

import command
import expiry
import feeder
import legacy
import pytest
from feederrig import Rig
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.mutations import hostile

DEFAULT_TTL, MAX_TTL = 300, 3600
IDS = st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True)
EVENTS = st.sampled_from(sorted(command.EVENTS))
V1 = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "id": IDS,
        "event": EVENTS,
        "issued_at": st.integers(command.MIN_TIME, command.MAX_TIME),
    },
    optional={"ttl": st.integers(0, 2**40)},
)
LEGACY = st.fixed_dictionaries(
    {
        "event": EVENTS,
        "reportedTime": st.integers(1, 2**32 - 1)
        | st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"),
    }
)
# Every reason the device may give a rejection: fixed texts, so a rejection allocates none.
REASONS = {
    value
    for module in (command, legacy, expiry, feeder)
    for name, value in vars(module).items()
    if name.startswith("R_")
}


def meaning(payload):
    """What a well-formed v1 command means: (id, bowls, issued_at, ttl)."""
    message = json.loads(payload)
    ttl = min(message.get("ttl", DEFAULT_TTL), MAX_TTL)
    return message["id"], command.EVENTS[message["event"]], message["issued_at"], ttl


@given(V1)
def test_a_valid_command_means_what_was_sent(message):
    payload = json.dumps(message).encode()
    parsed = command.parse(payload, DEFAULT_TTL, MAX_TTL)
    assert parsed.reason is None
    assert (parsed.id, parsed.bowls, parsed.issued_at, parsed.ttl) == meaning(payload)


@given(hostile(V1 | LEGACY))
def test_any_payload_is_accepted_with_its_meaning_or_refused_with_a_reason(payload):
    parsed = command.parse(payload, DEFAULT_TTL, MAX_TTL)
    if parsed.reason is not None:
        assert isinstance(parsed.reason, str) and parsed.reason and parsed.bowls == 0
        assert parsed.id is None or command.valid_id(parsed.id)
        return
    message = json.loads(payload)
    assert command.valid_id(parsed.id) and parsed.bowls == command.EVENTS[message["event"]]
    assert command.MIN_TIME <= parsed.issued_at <= command.MAX_TIME and 0 <= parsed.ttl <= MAX_TTL
    if "v" in message:
        assert (parsed.id, parsed.bowls, parsed.issued_at, parsed.ttl) == meaning(payload)
    else:
        assert parsed.id.startswith("legacy:") and parsed.ttl == DEFAULT_TTL


@pytest.fixture(scope="module")
def rig():
    device = Rig()
    yield device
    device.close()


@given(payload=hostile(V1 | LEGACY))
def test_no_payload_moves_a_servo_unless_it_is_dispensed(rig, payload):
    moved = len(rig.pins_moved())
    result = rig.decide(payload)
    if result["status"] != "dispensed":
        assert len(rig.pins_moved()) == moved, result
    if result["status"] == "rejected":
        assert result["reason"] in REASONS
