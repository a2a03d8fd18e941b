"""feeder.py when storage fails: never a double feed, never an exception, at most one result."""

from feederrig import Journal, Rig, feeder, payload
from messages import DISPENSED, REJECTED


class UnwritableJournal(Journal):
    def begin(self, command_id, issued_at, bowls_mask):
        raise OSError(28)  # ENOSPC


def test_storage_failure_refuses_rather_than_risking_a_double_feed():
    rig = Rig(UnwritableJournal)
    try:
        assert rig.feeder.handle(payload()) == REJECTED
        assert rig.pins_moved() == []
        assert [(r["status"], r["reason"]) for r in rig.results()] == [("rejected", feeder.R_STORAGE)]
    finally:
        rig.close()


class UnreadableJournal(Journal):
    def seen(self, command_id):
        raise OSError(5)  # EIO


def test_failure_before_begin_queues_one_rejection():
    rig = Rig(UnreadableJournal)
    try:
        assert rig.feeder.handle(payload()) == REJECTED
        assert rig.pins_moved() == []
        assert [(r["id"], r["status"], r["reason"]) for r in rig.results()] == [
            (None, "rejected", feeder.R_INTERNAL)
        ]
    finally:
        rig.close()


def test_a_failing_outbox_never_makes_handle_raise():
    rig = Rig()
    try:

        def full(packed):
            raise OSError(28)

        rig.outbox.put = full
        assert rig.feeder.handle(b"{") == REJECTED
        assert rig.feeder.handle(payload()) == DISPENSED  # the food dropped; only the report failed
        rig.boot()
        rig.recover()
        assert [(r["id"], r["status"]) for r in rig.results()] == [("press-7f3a9c2e", "interrupted")]
    finally:
        rig.close()
