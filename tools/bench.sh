#!/usr/bin/env bash
# `make bench`: every benchmark under bench/, one run each, figures printed as they come.
# bench/*_mpy.py run on the MicroPython unix port, on the firmware compiled by mpy-cross as the board
# runs it (their own firmware/ path comes after MICROPYPATH); the rest on the venv's CPython.
set -euo pipefail
cd "$(dirname "$0")/.."
compiled=build/mpy-bench
tools/compile_firmware.sh "$compiled"
for bench in bench/*.py; do
  echo "== $bench"
  case "$bench" in
    *_mpy.py) MICROPYPATH=$compiled:.deps/mpy-lib:.frozen .venv/bin/micropython -X heapsize=64K "$bench" ;;
    *) .venv/bin/python "$bench" ;;
  esac
done
