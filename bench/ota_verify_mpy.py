"""Checking a 100 KB signed release on the MicroPython unix port (64K heap): time and heap.

    MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib .venv/bin/micropython -X heapsize=64K \\
        bench/ota_verify_mpy.py      (make bench runs it so, after tools/compile_firmware.sh build/mpy-bench)

The release is tests/vectors/ota_bench_100k.json (32 files of 3200 bytes, signed by a throwaway key;
tests/vectors/make_ota_release.py): written to a temp dir, then otaverify.check_manifest (the
manifest's SHA-256, one pow(signature, 65537, n), its lines, the free blocks from os.statvfs) and
otaverify.check_files (each file's size and SHA-256, in 512-byte chunks), RUNS times. Goals (issue
23): under 1 s, and no more than 8 KB of heap at peak. Heap is measured two ways:
- the peak: the signature check (the step with the big integers) run with the collector off, its
  highest point by micropython.mem_peak() (the unix port's MICROPY_MEM_STATS: every allocation,
  garbage included, so an upper bound) with the 512-byte buffer the whole check holds; then what
  one manifest line and one file's check allocate (garbage, collected as the check goes);
- the least free heap the whole check runs in, bisected with ballast in several layouts: where the
  free bytes lie matters, because a 2048-bit product needs 512 of them in one piece, so this is
  the need in a fragmented heap.
"""

import gc
import json
import os
import sys
import time

import micropython

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


# Ballast piece sizes, largest first: each order leaves the free bytes in other places, and the
# check needs some of them contiguous (a 2048-bit product is 512 bytes), so the least free heap it
# runs in depends on where they are. The figure reported is the worst over these layouts.
LAYOUTS = ((1024, 128, 16), (4096, 512, 64, 16), (2048, 256, 32, 16), (512, 64, 16))


BALLAST = [None] * 512  # the pieces' list, made once: a list made per run would need 4 KB in one piece


def runs_with(free, layout, otaverify, directory, modulus, running):
    """True when one check completes with only `free` bytes of the heap free."""
    gc.collect()
    ballast = BALLAST
    count = 0
    for size in layout:
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
        for index in range(count):
            ballast[index] = None
        gc.collect()


def least_free_heap(layout, otaverify, directory, modulus, running):
    low, high = 0, 16384  # low fails (nothing runs in 0 bytes), high is checked to pass below
    if not runs_with(high, layout, otaverify, directory, modulus, running):
        return None
    while high - low > 64:
        middle = (low + high) // 2
        if runs_with(middle, layout, otaverify, directory, modulus, running):
            high = middle
        else:
            low = middle
    return high


def one_file_release(directory):
    """directory/one: the release's first file and a manifest of it alone (check_files reads the
    manifest as check_manifest passed it; it checks no signature)."""
    target = directory + "/one"
    os.mkdir(target)
    with open(directory + "/manifest.txt") as source, open(target + "/manifest.txt", "w") as manifest:
        for _ in range(4):  # header, version, downgrade, the first file
            line = source.readline()
            manifest.write(line)
    name = line.split()[3]
    with open(directory + "/" + name, "rb") as source, open(target + "/" + name, "wb") as copy:
        copy.write(source.read())
    return target


def peak_of(step):
    """The highest point of the heap above its level before step(), with the collector off."""
    gc.collect()
    gc.disable()
    try:
        level = micropython.mem_current()
        before = micropython.mem_peak()
        step()
        return max(micropython.mem_peak() - level, micropython.mem_current() - level), before > level
    finally:
        gc.enable()


def main():
    directory = tmpdir()
    try:
        modulus, running, size = stage(directory)
        gc.collect()
        before = gc.mem_alloc()
        import otaverify  # signature with it

        modules = gc.mem_alloc() - before
        buf = bytearray(otaverify.CHUNK)
        # First, before anything else frees memory explicitly (mem_peak then stays above the level).
        signature_peak, unsure = peak_of(lambda: otaverify.check_signature(directory, modulus, buf))
        manifest_peak = peak_of(lambda: otaverify.check_manifest(directory, modulus, running,
                                                                  os.statvfs(directory), buf))[0]
        one_file = one_file_release(directory)  # check_files with the collector off, on one file
        files_peak = peak_of(lambda: otaverify.check_files(one_file, buf))[0]
        times = [timed(otaverify, directory, modulus, running) for _ in range(RUNS)]
        totals = sorted(sig + files for sig, files in times)
        median = (sorted(sig for sig, _ in times)[RUNS // 2], sorted(files for _, files in times)[RUNS // 2])
        least = [least_free_heap(layout, otaverify, directory, modulus, running) for layout in LAYOUTS]
    finally:
        remove_tree(directory)
    print("command: " + COMMAND_LINE)
    print("release: %d bytes in %d files + manifest; otaverify and signature imported: %d bytes of heap"
          " (their bytecode, unless frozen; not counted in the peak below)" % (size, size // 3200, modules))
    print("time over %d runs: median %.1f ms (manifest and signature %.1f ms, file hashes %.1f ms), "
          "max %.1f ms"
          % (RUNS, totals[RUNS // 2], median[0], median[1], totals[-1]))
    lines = size // 3200 + 3
    per_line = (manifest_peak - signature_peak) // lines
    per_file = files_peak
    peak = otaverify.CHUNK + signature_peak
    print("heap at peak: <= %d bytes: the signature check %d%s (collector off, garbage included) + the"
          " 512-byte buffer; then each manifest line allocates ~%d, and one file's check (its manifest's"
          " four lines included) %d, garbage"
          % (peak, signature_peak, " (or less: mem_peak was above)" if unsure else "", per_line, per_file))
    print("least free heap the whole check ran in: %s bytes over %d ballast layouts (bisected to 64 bytes)"
          % (" / ".join(str(n) for n in least), len(LAYOUTS)))
    print("goal < %d ms: %s; goal <= %d bytes at peak: %s; in a fragmented heap: %s"
          % (GOAL_MS, "met" if totals[-1] < GOAL_MS else "NOT met", GOAL_HEAP,
             "met" if peak <= GOAL_HEAP else "NOT met",
             "met" if None not in least and max(least) <= GOAL_HEAP else "NOT met"))


main()
