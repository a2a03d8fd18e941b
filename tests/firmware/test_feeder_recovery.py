"""feeder.py across reboots: a crash mid-dispense is reported once as interrupted and never retried
(restore.py, which leaves the heap after each boot step)."""

import sys

import messages
from feederrig import LEFT_PIN, NOW, RIGHT_PIN, Rig, payload, strip_seq
from messages import DISPENSED, DUPLICATE, INTERRUPTED


def test_crash_while_dispensing_is_reported_once_as_interrupted_and_never_retried():
    rig = Rig()
    try:
        rig.journal.begin("press-crash", NOW - 5, 3)  # the power went while the servos moved
        rig.hal.advance_s(30)
        rig.boot()
        assert "restore" not in sys.modules  # the journal and outbox were read back, then it was released
        rig.recover()
        assert "restore" not in sys.modules
        assert strip_seq(rig.results()) == [
            {
                "v": 1,
                "type": "result",
                "thing": "cat-feeder",
                "id": "press-crash",
                "status": "interrupted",
                "bowls": ["left", "right"],
                "at": NOW + 30,
            }
        ]
        rig.boot()
        rig.recover()
        assert len(rig.results()) == 1  # reported once
        assert rig.feeder.handle(payload("press-crash", "LONG", NOW)) == DUPLICATE
        assert rig.pins_moved() == []
    finally:
        rig.close()


def test_crash_after_the_result_was_queued_adds_nothing():
    rig = Rig()
    try:
        rig.journal.begin("press-done", NOW, 1)
        rig.outbox.put(messages.pack_result("press-done", DISPENSED, 1, NOW, None))
        rig.boot()
        rig.recover()
        assert [(r["id"], r["status"]) for r in rig.results()] == [("press-done", "dispensed")]
        rig.boot()
        assert rig.journal.unfinished() == []
    finally:
        rig.close()


def test_servo_fault_is_reported_as_interrupted():
    rig = Rig()
    try:
        real_pwm = rig.hal.pwm

        def failing_pwm(pin):
            pwm = real_pwm(pin)

            def duty_ns(ns):
                raise OSError("pwm fault")

            pwm.duty_ns = duty_ns
            return pwm

        rig.hal.pwm = failing_pwm
        assert rig.feeder.handle(payload()) == INTERRUPTED
        # Detached, never driven; then both gates were told to go to rest (park), and detached again.
        writes = [(pin, duty) for _t, pin, duty in rig.hal.pwm_writes]
        assert writes == [(LEFT_PIN, 0), (LEFT_PIN, 0), (RIGHT_PIN, 0)]
        assert [(r["status"], r["bowls"]) for r in rig.results()] == [("interrupted", ["left"])]
        rig.boot()
        assert rig.journal.unfinished() == []  # finished: not reported a second time
        assert rig.feeder.handle(payload()) == DUPLICATE
    finally:
        rig.close()


def test_every_result_is_in_the_outbox_file_not_just_memory():
    rig = Rig()
    try:
        rig.feeder.handle(payload())
        rig.feeder.handle(b"{")
        rig.boot()
        assert [r["status"] for r in rig.results()] == ["dispensed", "rejected"]
    finally:
        rig.close()
