"""feeder.py refusals: bad payloads, a command arriving mid-dispense, a full journal; nothing moves."""

import command
import expiry
from feederrig import LEFT_PIN, NOW, Rig, feeder, payload
from messages import CAPPED, DISPENSED, DUPLICATE, EXPIRED, REJECTED


def test_bad_payloads_each_get_one_rejected_result_and_never_move():
    bad = [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b"null",
        b'{"v": 2, "id": "a", "event": "SINGLE", "issued_at": 1}',
        payload(event="TRIPLE"),
        payload(command_id="bad id"),
        b'{"v": 1, "id": "a", "event": "SINGLE", "issued_at": true}',
        b'{"v": true, "id": "a", "event": "SINGLE", "issued_at": 1795730000}',
        b'{"event": "SINGLE", "reportedTime": "last tuesday"}',
        b'{"v": 1, "id": "a", "event": "SINGLE", "issued_at": 1795730000, "pad": "' + b"x" * 1024 + b'"}',
        None,
    ]
    rig = Rig()
    try:
        results = []
        for p in bad:
            result = rig.decide(p)
            assert result["status"] == "rejected" and result["bowls"] == [] and result["reason"], p
            results.append((result["id"], result["reason"]))
        assert rig.outbox.depth == 0  # one result each, and decide() took it
        assert results[6] == ("press-7f3a9c2e", command.R_EVENT)
        assert results[5] == ("a", command.R_VERSION)  # a readable id names a bad-version rejection
        assert results[0][0] is None and results[11][1] == command.R_SIZE
        assert rig.pins_moved() == []
    finally:
        rig.close()


def test_a_command_arriving_mid_dispense_is_refused_as_busy():
    rig = Rig()
    try:
        inner = []
        real_sleep = rig.hal.sleep_ms

        def sleep_and_receive(ms):
            if not inner:
                inner.append(rig.feeder.handle(payload("p-inner", "DOUBLE")))
            real_sleep(ms)

        rig.hal.sleep_ms = sleep_and_receive
        assert rig.feeder.handle(payload("p-outer")) == DISPENSED
        assert inner == [REJECTED]
        assert rig.pins_moved() == [LEFT_PIN] * 4
        assert [(r["id"], r["status"], r.get("reason")) for r in rig.results()] == [
            ("p-inner", "rejected", feeder.R_BUSY),
            ("p-outer", "dispensed", None),
        ]
        assert not rig.journal.seen("p-inner")
    finally:
        rig.close()


def test_mid_dispense_busy_comes_after_duplicate_expiry_and_skew_and_before_the_cap():
    # The precedence docs/protocol.md states. The outer command is begun, so it is a duplicate, and
    # its bowl is at the hourly cap of 1: a new command for it is busy first, capped only afterwards.
    rig = Rig(per_hour=1)
    try:
        inner = []
        real_sleep = rig.hal.sleep_ms
        late = payload("p-late", issued_at=NOW - 400)  # past the default 300 s TTL
        ahead = payload("p-ahead", issued_at=NOW + 3600)
        fresh = payload("p-fresh")

        def sleep_and_receive(ms):
            if not inner:
                for body in (payload("p-outer"), late, ahead, fresh):
                    inner.append(rig.feeder.handle(body))
            real_sleep(ms)

        rig.hal.sleep_ms = sleep_and_receive
        assert rig.feeder.handle(payload("p-outer")) == DISPENSED
        assert inner == [DUPLICATE, EXPIRED, REJECTED, REJECTED]
        assert [r.get("reason") for r in rig.results()][2:4] == [expiry.R_FUTURE, feeder.R_BUSY]
        assert rig.feeder.handle(fresh) == CAPPED
    finally:
        rig.close()


def test_a_journal_smaller_than_the_cap_needs_refuses_rather_than_forgetting_an_id():
    # config.py never allows this (the cap bounds the journal); if the proof broke, refusing is right.
    rig = Rig(max_entries=1)
    try:
        assert rig.feeder.handle(payload("p-first")) == DISPENSED
        assert rig.feeder.handle(payload("p-second", "DOUBLE")) == REJECTED
        assert rig.feeder.handle(payload("p-first")) == DUPLICATE  # still remembered
        assert rig.pins_moved() == [LEFT_PIN] * 4
        assert rig.results()[1]["reason"] == feeder.R_STORAGE
    finally:
        rig.close()
