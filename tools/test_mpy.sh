#!/usr/bin/env bash
# Firmware unit tests on the real MicroPython interpreter, one process per test file:
# each file gets the whole 64K heap, as the firmware gets a fresh heap at every boot,
# so a test cannot pass only because an earlier file left memory fragmented, or fail because it did.
# Files run MPY_JOBS at a time (default: the cores); the report keeps the files' order.
set -uo pipefail
cd "$(dirname "$0")/.."
# The firmware as the board runs it: compiled by mpy-cross (tools/board.py deploys .mpy files).
compiled=build/mpy-test
tools/compile_firmware.sh "$compiled"
# The board's import order with the stock image's frozen umqtt (tools/device.py board_path).
export MICROPYPATH=$compiled:.frozen:tools/stock_frozen:lib
outputs=$(mktemp -d)
trap 'rm -rf "$outputs"' EXIT
export outputs
# shellcheck disable=SC2016
printf '%s\n' tests/firmware/test_*.py | xargs -P "${MPY_JOBS:-$(nproc)}" -I{} sh -c \
  '.venv/bin/micropython -X heapsize=64K tests/mpy_runner.py "$1" >"$outputs/$(basename "$1").out" 2>&1' _ {}
passed=0; failed=0; status=0
for test_file in tests/firmware/test_*.py; do
  output=$(cat "$outputs/$(basename "$test_file").out")
  summary=$(grep -E '^micropython: [0-9]+ passed, [0-9]+ failed$' <<<"$output" | tail -n 1)
  if [ -z "$summary" ]; then
    echo "$output"; echo "CRASH $test_file"; failed=$((failed + 1)); status=1; continue
  fi
  grep -v -E '^micropython: ' <<<"$output"
  read -r p f <<<"$(sed -E 's/^micropython: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/' <<<"$summary")"
  [ "$f" -gt 0 ] && status=1
  passed=$((passed + p)); failed=$((failed + f))
  printf '  %-45s %3d passed, %d failed\n' "$test_file" "$p" "$f"
done
echo "micropython: $passed passed, $failed failed"
exit $status
