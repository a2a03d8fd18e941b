"""Where the firmware's heap goes: resident size of each module once imported, on the unix port.

    .venv/bin/python bench/module_heap.py          (make bench runs it)

Each module is compiled with mpy-cross (as deployed) and imported in dependency order on
`micropython -X heapsize=256K`; the figure is the growth of gc.mem_alloc() after a collection,
i.e. the bytecode, constants and module state that stay in the heap. On the board the same
bytecode sits in the heap unless the modules are frozen into the MicroPython image (or put in
ROMFS), which is what a 64K heap would need: the code alone is more than that.
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools import board  # noqa: E402  (the deploy's own compile step)

# The button's modules last: app imports presses (and so button and press) only when a button is configured.
MODULES = ("config", "command", "expiry", "messages", "records", "journal", "cap", "outbox",
           "servo", "hal_sim", "feeder", "link", "app", "button", "press", "presses")
PROBE = """
import gc
gc.collect()
before = gc.mem_alloc()
for name in %r:
    __import__(name)
    gc.collect()
    after = gc.mem_alloc()
    print(name, after - before)
    before = after
""" % (MODULES,)


def main():
    with tempfile.TemporaryDirectory() as build:
        board.stage_modules(board.FIRMWARE, build)
        env = dict(os.environ, MICROPYPATH="%s:%s:.frozen" % (build, board.MPY_LIB))
        out = subprocess.run([os.path.join(board.BIN, "micropython"), "-X", "heapsize=256K", "-c", PROBE],
                             env=env, capture_output=True, text=True, check=True).stdout
    sizes = [(name, int(size)) for name, size in (line.split() for line in out.splitlines())]
    total = sum(size for _, size in sizes)
    print("command: .venv/bin/python bench/module_heap.py (mpy-cross rv32imc, micropython -X heapsize=256K)")
    for name, size in sizes:
        print("  %-9s %6d B  %4.1f%%" % (name, size, 100.0 * size / total))
    share = 100.0 * total / 65536
    print("resident firmware code and module state: %d B (%.0f%% of a 64K heap)" % (total, share))


if __name__ == "__main__":
    main()
