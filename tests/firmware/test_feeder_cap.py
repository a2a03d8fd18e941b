"""The feeding cap: a flood feeds at most the cap, the windows roll, a reboot keeps the counts,
and the journal it bounds never fills."""

from feederrig import LEFT_PIN, NOW, RIGHT_PIN, Rig, payload
from messages import CAPPED, DISPENSED, DUPLICATE, EXPIRED


def test_a_flood_of_distinct_ids_feeds_at_most_the_hourly_cap():
    rig = Rig(per_hour=4, per_day=12)
    try:
        statuses = []
        for i in range(40):
            result = rig.decide(payload("flood-%d" % i, issued_at=rig.hal.unix_time()))
            statuses.append(result["status"])
            if i == 4:
                capped = result
            rig.hal.advance_s(10)
        assert statuses == ["dispensed"] * 4 + ["capped"] * 36
        assert rig.pins_moved() == [LEFT_PIN] * 16
        assert capped["bowls"] == [] and capped["id"] == "flood-4"
        assert capped["reason"] == (
            "cap: left bowl has had 4 portions in the last hour (max_portions_per_hour 4)")
        assert rig.journal.entries == 4  # a capped command leaves no journal entry
    finally:
        rig.close()


def test_the_hour_rolls_on_and_a_legitimate_command_is_fed():
    rig = Rig(per_hour=2, per_day=12)
    try:
        statuses = []
        for i in range(3):
            statuses.append(rig.decide(payload("early-%d" % i, issued_at=rig.hal.unix_time()))["status"])
        # The first began at NOW (a dispense takes virtual time, so the second began a little later).
        rig.hal.advance_s(NOW + 3599 - rig.hal.unix_time())  # 3599 s on: still inside the hour
        assert rig.feeder.handle(payload("still-capped", issued_at=rig.hal.unix_time())) == CAPPED
        rig.hal.advance_s(NOW + 3600 - rig.hal.unix_time())
        assert rig.feeder.handle(payload("an-hour-later", issued_at=rig.hal.unix_time())) == DISPENSED
        assert statuses == ["dispensed", "dispensed", "capped"]
    finally:
        rig.close()


def test_bowls_are_capped_separately_and_long_is_refused_whole():
    rig = Rig(per_hour=1, per_day=12)
    try:
        assert rig.feeder.handle(payload("left-1", "SINGLE")) == DISPENSED
        assert rig.feeder.handle(payload("both", "LONG")) == CAPPED  # left is at its cap
        assert rig.feeder.handle(payload("right-1", "DOUBLE")) == DISPENSED
        assert rig.pins_moved() == [LEFT_PIN] * 4 + [RIGHT_PIN] * 4
        assert "left bowl" in rig.results()[1]["reason"]
    finally:
        rig.close()


def test_the_daily_cap_holds_across_hours_and_a_reboot():
    rig = Rig(per_hour=4, per_day=6)
    try:
        fed = 0
        for hour in range(4):
            for i in range(3):
                last = rig.decide(payload("h%d-%d" % (hour, i), issued_at=rig.hal.unix_time()))
                fed += last["status"] == "dispensed"
            rig.hal.advance_s(3600)
            rig.boot()  # a power cycle every hour: the counts come back from flash
        assert fed == 6
        assert last["reason"] == "cap: left bowl has had 6 portions in the last 24 h (max_portions_per_day 6)"
        rig.hal.advance_s(86400 - 4 * 3600)  # the first hour's portions leave the 24 h window
        assert rig.feeder.handle(payload("next-day", issued_at=rig.hal.unix_time())) == DISPENSED
    finally:
        rig.close()


def test_a_known_id_is_a_duplicate_even_after_its_ttl():
    rig = Rig()
    try:
        assert rig.feeder.handle(payload("fed", ttl=60)) == DISPENSED
        rig.hal.advance_s(3600)
        assert rig.feeder.handle(payload("fed", ttl=60)) == DUPLICATE
        assert rig.feeder.handle(payload("never-seen", ttl=60)) == EXPIRED
        assert rig.journal.entries == 1  # an expired command leaves no journal entry
    finally:
        rig.close()


def test_the_journal_never_fills_under_a_flood_at_the_largest_cap():
    # 2 * max_portions_per_day = 256 = the journal's slots: the bound of journal.py, exactly.
    rig = Rig(per_hour=128, per_day=128)
    try:
        dispensed = 0
        events = ("SINGLE", "DOUBLE", "LONG")
        for i in range(900):
            status = rig.feeder.handle(payload("f%d" % i, events[i % 3], issued_at=rig.hal.unix_time()))
            assert status in (DISPENSED, CAPPED), (i, status)
            dispensed += status == DISPENSED
            rig.hal.advance_s(300)  # 900 presses over ~3 days; no prune() call: begin() makes room
            rig.outbox.ack(rig.outbox.at(0)[0])
            del rig.hal.pwm_writes[:]  # the servo record would outgrow the 64K test heap
        assert dispensed > 256
    finally:
        rig.close()
