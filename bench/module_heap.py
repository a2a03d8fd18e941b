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

# Boot-only modules (bootonly.py) are measured after the resident ones (which they import) and then
# released; what stays of them (interned names) counts in the resident total. The button's modules
# last: app imports presses (and so button and press) only when a button is configured.
BOOT_ONLY = ("config", "startup", "restore", "reports")
MODULES = ("bootonly", "command", "expiry", "messages", "smallfiles", "journal", "cap", "outbox",
           "servo", "hal_sim", "feeder", "link", "app")
BUTTON = ("button", "press", "presses")
PROBE = """
import gc
import sys
gc.collect()
before = gc.mem_alloc()
for name in %r:
    __import__(name)
    gc.collect()
    after = gc.mem_alloc()
    print(name, after - before)
    before = after
    if name == %r:
        for boot_only in %r:
            del sys.modules[boot_only]
        gc.collect()
        print("released", gc.mem_alloc() - before)
        before = gc.mem_alloc()
""" % (MODULES + BOOT_ONLY + BUTTON, BOOT_ONLY[-1], BOOT_ONLY)


def main():
    with tempfile.TemporaryDirectory() as build:
        board.stage_modules(board.FIRMWARE, build)
        env = dict(os.environ, MICROPYPATH="%s:%s:.frozen" % (build, board.MPY_LIB))
        out = subprocess.run([os.path.join(board.BIN, "micropython"), "-X", "heapsize=256K", "-c", PROBE],
                             env=env, capture_output=True, text=True, check=True).stdout
    sizes = dict((name, int(size)) for name, size in (line.split() for line in out.splitlines()))
    boot_only = sum(sizes[name] for name in BOOT_ONLY)
    left_over = boot_only + sizes["released"]  # what stays of them: names interned while loading
    feeder = left_over + sum(sizes[name] for name in MODULES)
    with_button = feeder + sum(sizes[name] for name in BUTTON)
    print("command: .venv/bin/python bench/module_heap.py (mpy-cross rv32imc, micropython -X heapsize=256K)")
    for name in BOOT_ONLY:
        print("  %-9s %6d B  boot only: released after boot (bootonly.py)" % (name, sizes[name]))
    for name in MODULES + BUTTON:
        print("  %-9s %6d B  %4.1f%%" % (name, sizes[name], 100.0 * sizes[name] / with_button))
    print("boot-only modules released: %d of %d B back (%d B of interned names stay, counted below)"
          % (boot_only - left_over, boot_only, left_over))
    button_label = "with a button (+ %s)" % ", ".join(BUTTON)
    for label, total in (("a feeder without a button", feeder), (button_label, with_button)):
        print("resident firmware code and module state after boot, %s: %d B (%.0f%% of a 64K heap)"
              % (label, total, 100.0 * total / 65536))

if __name__ == "__main__":
    main()
