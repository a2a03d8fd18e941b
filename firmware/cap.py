"""The feeding cap: at most max_portions_per_hour and max_portions_per_day dispenses per bowl.

For the cat's health (a commercial feeder has a daily maximum too) and against anyone who can
publish: a flood of distinct valid ids feeds at most the cap. Windows are rolling (the last
3600 s and the last 86400 s of device time), so no time zone is needed and a reboot resets
nothing: the counts come from the dedup journal, which keeps the start time of every dispense
for a day (journal.py), in flash. A LONG counts one portion for each bowl, and is refused
whole when either bowl is at its cap.

The cap also bounds the journal: at most 2 * max_portions_per_day entries inside its one-day
horizon, which config.py keeps within the journal's slots (proof in journal.py).
"""

from array import array

HOUR_S = 3600
DAY_S = 86400
BOWL_NAMES = ("left", "right")


class Cap:
    def __init__(self, journal, per_hour, per_day):
        self.journal = journal
        self.per_hour = per_hour
        self.per_day = per_day
        # Filled by count(): [left, right] within the hour and within the day.
        self._counts = array("H", bytes(8))
        self.portions_hour = memoryview(self._counts)[0:2]
        self.portions_day = memoryview(self._counts)[2:4]

    def count(self, now):
        """Refresh portions_hour and portions_day as of now (Unix seconds)."""
        self.journal.tally(now - HOUR_S, now - DAY_S, self._counts)

    def refusal(self, bowls, now):
        """None when every bowl in the mask may be fed at now, else the reason (text) it may not."""
        self.count(now)
        for side in range(2):
            if not bowls & (1 << side):
                continue
            if self.portions_hour[side] >= self.per_hour:
                return "cap: %s bowl has had %d portions in the last hour (max_portions_per_hour %d)" % (
                    BOWL_NAMES[side], self.portions_hour[side], self.per_hour)
            if self.portions_day[side] >= self.per_day:
                return "cap: %s bowl has had %d portions in the last 24 h (max_portions_per_day %d)" % (
                    BOWL_NAMES[side], self.portions_day[side], self.per_day)
        return None
