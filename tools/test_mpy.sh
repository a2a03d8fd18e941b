#!/usr/bin/env bash
# Firmware unit tests on the real MicroPython interpreter, one process per test file:
# each file gets the whole 64K heap, as the firmware gets a fresh heap at every boot,
# so a test cannot pass only because an earlier file left memory fragmented, or fail because it did.
set -uo pipefail
cd "$(dirname "$0")/.."
# The firmware as the board runs it: compiled by mpy-cross (tools/board.py deploys .mpy files).
compiled=build/mpy-test
tools/compile_firmware.sh "$compiled"
# The board's import order with the stock image's frozen umqtt (tools/device.py board_path).
export MICROPYPATH=$compiled:.frozen:tools/stock_frozen:lib
passed=0; failed=0; status=0
for test_file in tests/firmware/test_*.py; do
  output=$(.venv/bin/micropython -X heapsize=64K tests/mpy_runner.py "$test_file" 2>&1) || status=1
  summary=$(grep -E '^micropython: [0-9]+ passed, [0-9]+ failed$' <<<"$output" | tail -n 1)
  if [ -z "$summary" ]; then
    echo "$output"; echo "CRASH $test_file"; failed=$((failed + 1)); status=1; continue
  fi
  grep -v -E '^micropython: ' <<<"$output"
  read -r p f <<<"$(sed -E 's/^micropython: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/' <<<"$summary")"
  passed=$((passed + p)); failed=$((failed + f))
  printf '  %-45s %3d passed, %d failed\n' "$test_file" "$p" "$f"
done
echo "micropython: $passed passed, $failed failed"
exit $status
