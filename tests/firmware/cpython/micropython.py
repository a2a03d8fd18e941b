"""CPython stand-in for MicroPython's built-in `micropython` module, so the firmware's const()
declarations run under pytest. Only on CPython's path (tests/firmware/conftest.py)."""


def const(value):
    return value
