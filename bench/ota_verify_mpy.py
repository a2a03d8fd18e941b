"""Checking a 100 KB signed release on the MicroPython unix port (64K heap): time and heap.

    MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib .venv/bin/micropython -X heapsize=64K \\
        bench/ota_verify_mpy.py      (make bench runs it so, after tools/compile_firmware.sh build/mpy-bench)

The release is tests/vectors/ota_bench_100k.json (32 files of 3200 bytes, signed by a throwaway key;
tests/vectors/make_ota_release.py): written to a temp dir, then otaverify.check_manifest (the
manifest's SHA-256, one pow(signature, 65537, n), its lines, the free blocks from os.statvfs) and
otaverify.check_files (each file's size and SHA-256, in 512-byte chunks), RUNS times. Goals (issue
23): under 1 s, and no more than 8 KB of heap at peak. Heap is measured two ways: everything the
check needs as the least free heap it runs in (bisected with ballast: its peak, fragmentation
included; the garbage it makes is collected as it goes, as on the board).
"""

import gc
import json
import os
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.append(_here + "/../firmware")  # source, when MICROPYPATH has no compiled firmware
sys.path.insert(0, _here + "/../tests/firmware")
from fwtest import remove_tree, tmpdir  # noqa: E402

COMMAND_LINE = ("MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib"
                " .venv/bin/micropython -X heapsize=64K bench/ota_verify_mpy.py"
                " (make bench; tools/compile_firmware.sh build/mpy-bench compiles the firmware first)")
RUNS = 9
GOAL_MS = 1000
GOAL_HEAP = 8192


def stage(directory):
    """Write the vector's release into directory; (modulus, running version, release bytes)."""
    with open(_here + "/../tests/vectors/ota_bench_100k.json") as f:
        vector = json.load(f)
    with open(directory + "/manifest.txt", "w") as f:
        f.write(vector["manifest"])
    with open(directory + "/manifest.sig", "wb") as f:
        f.write(bytes.fromhex(vector["signature"]))
    content = bytearray(vector["size"])
    for index in range(vector["files"]):
        for j in range(len(content)):
            content[j] = (31 * index + 7 * j) % 256
        with open(directory + "/f%02d.mpy" % index, "wb") as f:
            f.write(content)
    return int(vector["modulus"], 16), tuple(int(part) for part in vector["running"].split(".")), \
        vector["files"] * vector["size"]


def check(otaverify, directory, modulus, running):
    otaverify.check_manifest(directory, modulus, running, os.statvfs(directory))
    otaverify.check_files(directory)


def timed(otaverify, directory, modulus, running):
    """(manifest ms, files ms) of one check."""
    start = time.ticks_us()
    otaverify.check_manifest(directory, modulus, running, os.statvfs(directory))
    middle = time.ticks_us()
    otaverify.check_files(directory)
    end = time.ticks_us()
    return time.ticks_diff(middle, start) / 1000, time.ticks_diff(end, middle) / 1000


def runs_with(free, otaverify, directory, modulus, running):
    """True when one check completes with only `free` bytes of the heap free."""
    gc.collect()
    ballast = [None] * 512  # preallocated, so the list itself does not grow while filling
    count = 0
    for size in (1024, 128, 16):
        while gc.mem_free() - free > size + 64 and count < len(ballast):
            try:
                ballast[count] = bytearray(size)
            except MemoryError:  # no run of that size left: smaller pieces fill the rest
                break
            count += 1
    try:
        check(otaverify, directory, modulus, running)
        return True
    except MemoryError:
        return False
    finally:
        ballast = None
        gc.collect()


def least_free_heap(otaverify, directory, modulus, running):
    low, high = 0, 16384  # low fails (nothing runs in 0 bytes), high is checked to pass below
    if not runs_with(high, otaverify, directory, modulus, running):
        return None
    while high - low > 64:
        middle = (low + high) // 2
        if runs_with(middle, otaverify, directory, modulus, running):
            high = middle
        else:
            low = middle
    return high


def main():
    directory = tmpdir()
    try:
        modulus, running, size = stage(directory)
        gc.collect()
        before = gc.mem_alloc()
        import otaverify  # signature with it

        modules = gc.mem_alloc() - before
        times = sorted(timed(otaverify, directory, modulus, running) for _ in range(RUNS))
        totals = sorted(sig + files for sig, files in times)
        median = times[RUNS // 2]
        least = least_free_heap(otaverify, directory, modulus, running)
    finally:
        remove_tree(directory)
    print("command: " + COMMAND_LINE)
    print("release: %d bytes in %d files + manifest; otaverify and signature imported: %d bytes of heap"
          " (their bytecode, unless frozen; not counted in the peak below)" % (size, size // 3200, modules))
    print("time over %d runs: median %.1f ms (manifest and signature %.1f ms, file hashes %.1f ms), "
          "max %.1f ms"
          % (RUNS, totals[RUNS // 2], median[0], median[1], totals[-1]))
    print("heap at peak: the least free heap the check ran in, %s bytes (ballast, bisected to 64 bytes)"
          % least)
    print("goal < %d ms: %s; goal <= %d bytes at peak: %s"
          % (GOAL_MS, "met" if totals[-1] < GOAL_MS else "NOT met", GOAL_HEAP,
             "met" if least is not None and least <= GOAL_HEAP else "NOT met"))


main()
