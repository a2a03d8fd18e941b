# The firmware's modules on CPython, as tests/firmware/conftest.py puts them (the files MicroPython runs).
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for folder in ("firmware", "tests/firmware", "tests/firmware/cpython"):
    sys.path.insert(0, os.path.join(ROOT, folder))
