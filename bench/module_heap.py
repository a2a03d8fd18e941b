"""Where the firmware's heap goes: resident size of each module once imported, on the board's HAL
(hal_board) and on the unix port's (hal_sim).

    .venv/bin/python bench/module_heap.py          (make bench runs it)

Each module is compiled with mpy-cross (as deployed) and imported in dependency order on
`micropython -X heapsize=256K`; the figure is the growth of gc.mem_alloc() after a collection,
i.e. the bytecode, constants and module state that stay in the heap. On the board the same
bytecode sits in the heap unless the modules are frozen into the MicroPython image (or put in
ROMFS). The unix port is 64-bit, so every pointer costs twice what it costs on the ESP32-C3:
the figures are an upper bound for the board.

The board's set imports hal_board with stand-ins for the ESP32 port's own modules (machine,
network, ntptime: the board twin, tests/board_twin/), imported before the measure starts; the unix
port's set imports hal_sim instead. Each set is measured in a process of its own. connect is
loaded for each connect attempt and released (link.py), so it counts as rare.
With MICROPYTHON_32 naming a 32-bit build of the unix port (MicroPython's ports/unix built with
CROSS_COMPILE=i686-linux-gnu-; without its submodules, so without ssl: bench/peer_clients/no_tls
stands in for the import), both sets are measured on it too. Interned names
(qstrs) are counted where they are first interned, and their pools grow in steps (each new pool
larger than the last), so the split between modules shifts between layouts and a pool allocated
late, mostly empty, can add a few KB to one set and not the other; the table shows that part apart.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tools import board  # noqa: E402  (the deploy's own compile step)

STANDINS = os.path.join(os.path.dirname(HERE), "tests", "board_twin")
NO_TLS = os.path.join(HERE, "peer_clients", "no_tls")  # last on the path: only where ssl is missing
# A 32-bit build of the unix port (the board's word size), when one is at hand: see the docstring.
MICROPYTHON_32 = os.environ.get("MICROPYTHON_32")
PORT_MODULES = ("machine", "network", "ntptime")  # the ESP32 port's, stood in for on the unix port
# Boot-only and rare-path modules (bootonly.py) are measured after the resident ones (which they
# import) and then released; what stays of them (interned names) counts in the resident total.
# The button's modules last: app imports presses (and so button and press) only when a button is
# configured.
BOOT_ONLY = ("config", "startup", "restore", "reports", "connect", "otaboot", "tzrule", "schedule_run",
             "schedule_doc")
MODULES = ("bootonly", "command", "expiry", "messages", "smallfiles", "journal", "cap", "outbox",
           "servo", "feeder", "link", "schedule", "shadow", "otajob", "app")
BUTTON = ("button", "press", "presses")
# (where, HAL, boot-only modules of that HAL's device, its button module: HAL.button imports it). The
# board's: boot.py's flashfs (the remount) and HAL.NETWORK's board_network (Wi-Fi, NTP). otaboot (the
# update's trial: boot.py, App at boot and once connected) is the same on both.
HALS = (("board", "hal_board", ("flashfs", "board_network"), "board_button"),
        ("unix", "hal_sim", (), "sim_button"))
# After each import: the heap's growth, then micropython.qstr_info()'s line (the interned names' pools).
PROBE = """
import gc
import micropython
import sys
for name in %r:
    __import__(name)
gc.collect()
before = gc.mem_alloc()
micropython.qstr_info()
for name in %r:
    if name == %r:
        loaded_before = set(sys.modules)
    __import__(name)
    gc.collect()
    after = gc.mem_alloc()
    print(name, after - before)
    micropython.qstr_info()
    before = after
    if name == %r:  # released as bootonly.call releases: every module imported since the first
        for loaded in [loaded for loaded in sys.modules if loaded not in loaded_before]:
            del sys.modules[loaded]
        gc.collect()
        print("released", gc.mem_alloc() - before)
        before = gc.mem_alloc()
"""


def measure(build, hal, boot_only, button, micropython=None):
    """{module: bytes} for the firmware with this HAL, plus "released" (negative: what came back)."""
    micropython = micropython or os.path.join(board.BIN, "micropython")
    path = [build, ".frozen"] + ([STANDINS] if hal == "hal_board" else []) + [NO_TLS]
    order = MODULES + (hal,) + boot_only + BUTTON + (button,)
    probe = PROBE % (PORT_MODULES if hal == "hal_board" else (), order, boot_only[0], boot_only[-1])
    env = dict(os.environ, MICROPYPATH=":".join(path))
    out = subprocess.run([micropython, "-X", "heapsize=256K", "-c", probe],
                         env=env, capture_output=True, text=True, check=True).stdout
    sizes = {}
    names = {}  # bytes of interned names (qstr pools) each module added
    pooled = last = None
    for line in out.splitlines():
        if line.startswith("qstr pool:"):
            pooled = int(line.rsplit("n_total_bytes=", 1)[1])
            if last is not None:
                names[last] = pooled - names[last]
            continue
        last, size = line.split()
        sizes[last] = int(size)
        names[last] = pooled
    return sizes, names


def main():
    with tempfile.TemporaryDirectory() as build:
        board.stage_modules(board.FIRMWARE, build)
        measured = dict((where, measure(build, hal, BOOT_ONLY + network, button))
                        for where, hal, network, button in HALS)
        word_32 = dict((where, resident(measure(build, hal, BOOT_ONLY + network, button, MICROPYTHON_32)[0],
                                        hal, network)[0])
                       for where, hal, network, button in HALS) if MICROPYTHON_32 else {}
    sizes = dict((where, measured[where][0]) for where in measured)
    names = dict((where, measured[where][1]) for where in measured)
    print("command: .venv/bin/python bench/module_heap.py (mpy-cross rv32imc, micropython -X heapsize=256K)")
    print("heap growth per module; in brackets, of which interned names (qstr pools: counted where a name")
    print("is first interned, and a pool grows in steps, so this part shifts between modules and runs)")
    print("  %-13s %22s %22s" % ("module", "board", "unix"))

    def row(name):
        cells = [("%6d B (names %5d B)" % (sizes[where][name], names[where][name])) if name in sizes[where]
                 else "%22s" % "-" for where, _, _, _ in HALS]
        return "  %-13s %s" % (name, " ".join(cells))

    for name in BOOT_ONLY + ("flashfs", "board_network"):
        print(row(name) + "  boot only or rare: released after use (bootonly.py)")
    for name in MODULES + ("hal_board", "hal_sim") + BUTTON + ("board_button", "sim_button"):
        print(row(name))
    for where, hal, network, button in HALS:
        feeder, boot_only, left_over = resident(sizes[where], hal, network)
        with_button = feeder + sum(sizes[where][name] for name in BUTTON + (button,))
        label = "on the board (%s)" % hal if where == "board" else "on the unix port (%s)" % hal
        print("%s: boot-only modules released: %d of %d B back (%d B of interned names stay, counted below)"
              % (label, boot_only - left_over, boot_only, left_over))
        print("resident firmware code and module state after boot %s, a feeder without a button: %d B "
              "(%.0f%% of a 64K heap); with a button (+ %s): %d B"
              % (label, feeder, 100.0 * feeder / 65536, ", ".join(BUTTON + (button,)), with_button))
    for where, hal, network, _ in HALS:
        if where in word_32:
            print("on the 32-bit build %s, the set with %s, a feeder without a button: %d B, %.2f times the"
                  " 64-bit figure" % (MICROPYTHON_32, hal, word_32[where],
                                      word_32[where] / resident(sizes[where], hal, network)[0]))


def resident(measured, hal, network):
    """(resident bytes of a feeder without a button, boot-only bytes, what stays of those)."""
    boot_only = sum(measured[name] for name in BOOT_ONLY + network)
    left_over = boot_only + measured["released"]  # what stays of them: names interned while loading
    return left_over + sum(measured[name] for name in MODULES + (hal,)), boot_only, left_over


if __name__ == "__main__":
    main()
