"""Stand-in for micropython-lib's ntptime (bench/module_heap.py only)."""


def settime():
    pass
