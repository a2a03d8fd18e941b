# CPython side of the dual-interpreter firmware tests: put the firmware on the import path,
# as MICROPYPATH does for the MicroPython run (see the Makefile's test-firmware-mpy).
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "firmware"))
sys.path.insert(0, HERE)
# const() and the like: MicroPython has them built in.
sys.path.insert(0, os.path.join(HERE, "cpython"))
