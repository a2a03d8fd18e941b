"""Compile a POSIX TZ rule (the footer line of a zone's TZif data) into tzrule.py's tuple of ints.

Imported only when a schedule document arrives (schedule_doc.py) and released with it: the device
stores and keeps the compiled tuple, so the parser never stays in the heap.
"""


class _Reader:
    def __init__(self, text):
        self.text = text
        self.i = 0

    def peek(self):
        return self.text[self.i] if self.i < len(self.text) else ""

    def take(self, ch):
        if self.peek() == ch:
            self.i += 1
            return True
        return False

    def number(self, low, high):
        start = self.i
        while self.peek().isdigit():
            self.i += 1
        if start == self.i or self.i - start > 3:
            raise ValueError
        value = int(self.text[start : self.i])
        if not low <= value <= high:
            raise ValueError
        return value

    def name(self):
        if self.take("<"):
            end = self.text.find(">", self.i)
            if end < self.i + 3:
                raise ValueError
            self.i = end + 1
            return
        start = self.i
        while self.peek().isalpha():
            self.i += 1
        if self.i - start < 3:
            raise ValueError

    def hms(self, max_hours):
        """[+-]hh[:mm[:ss]] in seconds."""
        sign = -1 if self.take("-") else 1
        if sign == 1:
            self.take("+")
        seconds = self.number(0, max_hours) * 3600
        if self.take(":"):
            seconds += self.number(0, 59) * 60
            if self.take(":"):
                seconds += self.number(0, 59)
        return sign * seconds

    def date(self):
        if not self.take(","):
            raise ValueError
        if self.take("J"):
            rule = [0, self.number(1, 365), 0, 0]
        elif self.take("M"):
            month = self.number(1, 12)
            if not self.take("."):
                raise ValueError
            week = self.number(1, 5)
            if not self.take("."):
                raise ValueError
            rule = [2, month, week, self.number(0, 6)]
        else:
            rule = [1, self.number(0, 365), 0, 0]
        rule.append(self.hms(167) if self.take("/") else 7200)
        return tuple(rule)


def parse(text):
    """The compiled rule of a POSIX TZ string, or None when it is not one."""
    if type(text) is not str or not 0 < len(text) <= 64:
        return None
    r = _Reader(text)
    try:
        r.name()
        std = -r.hms(24)
        if r.peek() == "":
            return std, std, None, None
        r.name()
        dst = std + 3600
        if r.peek() not in (",", ""):
            dst = -r.hms(24)
        start = r.date()
        end = r.date()
    except ValueError:
        return None
    if r.peek() != "":
        return None
    return std, dst, start, end
