"""Fuzzing the hub's ingest (cloud/hub/ingest.py) with its real ledger and the handlers on the hub's runtime:
any payload on a button or states topic becomes one event, or one bounded row in `rejected`
whose reason is the handler's or says the payload is not JSON or too big; handle() never raises."""

import hashlib
import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cloud.handlers import bounds
from cloud.hub import ledger as ledger_mod
from cloud.hub.events import LedgerEvents
from cloud.hub.ingest import Ingest
from cloud.hub.pki import Pki
from cloud.hub.runtime import Runtime
from cloud.topology import button_topic, states_topic, topic_thing
from tests.fuzz.mutations import hostile
from tests.fuzz.test_fuzz_handlers import ONE_CLICK, PRESS, RESULT, STATUS, TELEMETRY

# A topic's thing as mosquitto lets a client publish it (the ACL stands aside here): any text but / + # and
# NUL, in UTF-8, so no lone surrogate (MQTT 3.1.1, 1.5.3: the broker disconnects a client that sends one).
THINGS = st.just("cat-feeder") | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/+#\x00"), max_size=70
)
TOPICS = st.builds(states_topic, THINGS) | st.builds(button_topic, THINGS)
PAYLOADS = hostile(PRESS | ONE_CLICK | RESULT | STATUS | TELEMETRY) | st.sampled_from(
    [b"[" * 3000 + b"]" * 3000, b"x" * (bounds.MAX_MESSAGE_BYTES + 1), b"\xff\xfe"]
)
SEQ_NO_DEVICE_SENDS = json.dumps({"v": 1, "event": "SINGLE", "at": 1795730000, "seq": 10**40}).encode()
# Why a payload may be refused before any handler sees it (the exception's type names it).
NOT_A_MESSAGE = ("JSONDecodeError: ", "UnicodeDecodeError: ", "ValueError: payload of ", "NotJson: ")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub")
    ledger = ledger_mod.Ledger(str(folder / "ledger.sqlite3"), synchronous="OFF")
    events = LedgerEvents()
    runtime = Runtime(events=events)
    pki = Pki(str(folder / "pki"), "cat-feeder").ensure()
    yield Ingest(ledger, events, runtime, pki, "127.0.0.1", 1, on_commit=lambda: None), ledger, events
    ledger.close()


def last_rejected(ledger):
    return ledger.db.execute(
        "SELECT id, payload, reason, length, sha256 FROM rejected ORDER BY id DESC"
    ).fetchone()


@given(topic=TOPICS, payload=PAYLOADS)
@example(topic="cat-feeder/cat-feeder/button", payload=SEQ_NO_DEVICE_SENDS)
def test_any_message_becomes_one_event_or_one_bounded_rejected_row(hub, topic, payload):
    ingest, ledger, events = hub
    before = last_rejected(ledger)
    ingest.handle(topic, payload)
    # What the next commit writes (Ingest's batch): the events put, the inputs rejected.
    pending, rejected = events.take(), list(ingest.rejected)
    ingest.rejected.clear()
    ledger.append_batch([], rejected)
    after = last_rejected(ledger)
    if pending:
        assert len(pending) == 1 and after == before
        (event, _), message = pending[0], json.loads(payload)
        if topic.endswith("/states"):
            # The topic's thing, never the payload's (the states rule's topic(2) AS thing).
            assert event["detail"] == dict(message, thing=topic_thing(topic))
        elif event["detail"]["origin"] == "button":
            # What the device could have sent (docs/protocol.md, "Bounds"), and what it means.
            assert bounds.is_int(message["seq"], 0, bounds.MAX_SEQ)
            assert (
                event["detail"]["event"] == message["event"]
                and event["detail"]["pressed_at"] == message["at"]
            )
        return
    _, prefix, reason, length, digest = after
    assert after != before and (length, digest) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert (
        bytes(prefix) == payload[: ledger_mod.REJECTED_PREFIX] and len(reason) <= ledger_mod.REJECTED_REASON
    )
    if reason.startswith(NOT_A_MESSAGE):
        return
    # Otherwise the handler's own reason: a field named, never an exception it did not expect.
    assert ": " in reason and not reason.split(":")[0].endswith(("Error", "Exception")), reason
