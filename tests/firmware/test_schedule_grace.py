"""The schedule's grace on the sim's virtual clock (CPython and MicroPython): an occurrence found
overdue by at most grace_s is fed late, one second more is reported `missed`, each once
(docs/protocol.md, "Schedule shadow"). One rig per file (the 64K MicroPython heap): the `missed`
side is test_schedule_missed.py."""

from schedrig import grace_boundary


def test_an_occurrence_overdue_by_exactly_grace_is_fed_late_once():
    grace_boundary(600, "dispensed")
