"""The schedule's grace on the sim's virtual clock (CPython and MicroPython): an occurrence found
overdue by one second more than grace_s is reported `missed`, once, and nothing moves; the next
day's runs (docs/protocol.md, "Schedule shadow"). The fed side: test_schedule_grace.py."""

from schedrig import grace_boundary


def test_an_occurrence_overdue_by_grace_and_a_second_is_reported_missed_once():
    grace_boundary(601, "missed")
