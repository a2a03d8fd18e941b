"""config.py's safety limits follow from the journal's capacity and the clock allowances (the proof
in journal.py): these fail when one of them changes without the other."""

import cap
import config
import expiry
import journal
from servo import LEFT, RIGHT


def test_a_command_lives_at_most_the_journal_horizon_less_the_clock_skew_allowance():
    # Assumption A2 of the proof: horizon_s >= max_ttl_s + FUTURE_SKEW_S. The horizon is the day
    # App gives the journal, which is also the cap's daily window (cap.DAY_S).
    assert config.MAX_TTL_S == cap.DAY_S - expiry.FUTURE_SKEW_S


def test_both_bowls_at_the_daily_cap_fill_the_journal_slots_and_no_more():
    # Every entry feeds at least one bowl and each bowl starts at most max_portions_per_day in a
    # day, so a day's entries number at most bowls * max_portions_per_day: within SLOTS, "why the
    # journal cannot fill". Equal, so that more slots raise the limit too.
    bowls = bin(LEFT | RIGHT).count("1")
    assert bowls * config.MAX_PORTIONS_PER_DAY == journal.SLOTS
