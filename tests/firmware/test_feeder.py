"""feeder.py decisions on the real Journal and Outbox: what moved (servo trace) and what was queued.

Exactly one result per payload, and no movement unless dispensed. Rejections, storage faults
and recovery are in test_feeder_rejects.py, test_feeder_faults.py and test_feeder_recovery.py.
"""

import expiry
from feederrig import CONFIG, LEFT_PIN, NOW, RIGHT_PIN, Rig, payload, strip_seq
from messages import DISPENSED, DUPLICATE, EXPIRED, REJECTED


def test_dispensed_then_duplicate_then_duplicate_after_reboot():
    rig = Rig()
    try:
        assert rig.feeder.handle(payload()) == DISPENSED
        assert rig.pins_moved() == [LEFT_PIN] * 4
        assert rig.hal.pwm_writes[-1][2] == 0
        assert rig.feeder.handle(payload()) == DUPLICATE
        rig.boot()
        rig.recover()
        assert rig.feeder.handle(payload()) == DUPLICATE
        assert rig.pins_moved() == [LEFT_PIN] * 4  # nothing moved after the first
        results = rig.results()
        assert [r["seq"] for r in results] == [results[0]["seq"] + i for i in range(3)]
        later = NOW + 1  # the dispense took over a second of (virtual) time
        base = {"v": 1, "type": "result", "thing": "cat-feeder", "id": "press-7f3a9c2e"}
        first = dict(base, status="dispensed", bowls=["left"], at=NOW)
        again = dict(base, status="duplicate", bowls=[], at=later)
        assert strip_seq(results) == [first, again, again]
    finally:
        rig.close()


def test_long_and_double_move_their_bowls():
    rig = Rig()
    try:
        assert rig.feeder.handle(payload("p-long", "LONG")) == DISPENSED
        assert rig.feeder.handle(payload("p-double", "DOUBLE")) == DISPENSED
        assert rig.pins_moved() == [LEFT_PIN] * 4 + [RIGHT_PIN] * 4 + [RIGHT_PIN] * 4
        assert [r["bowls"] for r in rig.results()] == [["left", "right"], ["right"]]
    finally:
        rig.close()


def test_expired_commands_never_move():
    rig = Rig()
    try:
        default_ttl = CONFIG["commands"]["default_ttl_s"]
        max_ttl = CONFIG["commands"]["max_ttl_s"]
        assert rig.feeder.handle(payload("p-old", issued_at=NOW - default_ttl - 1)) == EXPIRED
        assert rig.feeder.handle(payload("p-short", issued_at=NOW - 11, ttl=10)) == EXPIRED
        # a ttl above max_ttl_s is clamped, so it cannot keep a command alive longer
        clamped = payload("p-clamped", issued_at=NOW - max_ttl - 1, ttl=10 * max_ttl)
        assert rig.feeder.handle(clamped) == EXPIRED
        assert rig.pins_moved() == []
        assert [(r["id"], r["status"], r["bowls"]) for r in rig.results()] == [
            ("p-old", "expired", []),
            ("p-short", "expired", []),
            ("p-clamped", "expired", []),
        ]
        # an expired id was never begun: it is not remembered as seen
        assert not rig.journal.seen("p-old")
        assert rig.feeder.handle(payload("p-edge", issued_at=NOW - default_ttl)) == DISPENSED
    finally:
        rig.close()


def test_clock_skew_allowance():
    rig = Rig()
    try:
        assert rig.feeder.handle(payload("p-ahead", issued_at=NOW + expiry.FUTURE_SKEW_S)) == DISPENSED
        now = rig.hal.unix_time()  # the dispense took a second or so
        assert rig.feeder.handle(payload("p-future", issued_at=now + expiry.FUTURE_SKEW_S + 1)) == REJECTED
        result = rig.results()[-1]
        assert (result["id"], result["status"], result["reason"]) == ("p-future", "rejected", expiry.R_FUTURE)
        assert rig.pins_moved() == [LEFT_PIN] * 4
    finally:
        rig.close()


def test_a_clock_set_far_ahead_and_back_never_feeds_an_id_twice():
    # The clock jumps to 2099, the journal's prune forgets the day's ids, the clock is set right
    # again: a redelivery of an id dispensed before must not feed again; a newer command still feeds.
    rig = Rig()
    try:
        assert rig.feeder.handle(payload("p-once", issued_at=NOW, ttl=3000)) == DISPENSED
        rig.hal.start_unix = 4070908800  # 2099-01-01
        rig.journal.prune(rig.hal.unix_time())
        assert not rig.journal.seen("p-once")
        rig.hal.start_unix = NOW + 60
        assert rig.feeder.handle(payload("p-once", issued_at=NOW, ttl=3000)) == REJECTED
        assert rig.results()[-1]["reason"] == expiry.R_FORGOTTEN
        rig.hal.advance_s(expiry.FUTURE_SKEW_S)  # a command issued after the forgotten one's window
        assert rig.feeder.handle(payload("p-newer", issued_at=rig.hal.unix_time())) == DISPENSED
        assert rig.pins_moved() == [LEFT_PIN] * 8  # two dispenses
    finally:
        rig.close()


def test_every_servo_move_feeds_the_watchdog_first():
    # A backlog of dispenses (a dwell can be 10 s) must never starve the board's 60 s watchdog.
    rig = Rig()
    try:
        fed = rig.hal.watchdog_feeds
        assert rig.feeder.handle(payload("p-long", "LONG")) == DISPENSED
        assert rig.hal.watchdog_feeds - fed == 4  # open and close, for each bowl
        rig.dispenser.park()
        assert rig.hal.watchdog_feeds - fed == 6
    finally:
        rig.close()
