#!/usr/bin/env bash
# `make bench`: every benchmark under bench/, one run each, figures printed as they come.
# bench/*_mpy.py run on the MicroPython unix port, on the firmware compiled as the board runs it
# (their source fallback is for a run by hand); the rest on the venv's CPython.
# bench/shelter.py reads SHELTER_FEEDERS, SHELTER_SECONDS and SHELTER_RATE from the environment
# (`SHELTER_SECONDS=10 make bench` for a quicker run).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/compile_firmware.sh build/mpy-bench
export MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib  # the board's order (tools/device.py board_path)
for bench in bench/*.py; do
  echo "== $bench"
  case "$bench" in
    *_mpy.py) .venv/bin/micropython -X heapsize=64K "$bench" ;;
    *) .venv/bin/python "$bench" ;;
  esac
done
