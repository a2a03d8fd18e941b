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
# A file may name a larger heap in a line `# mpy-heapsize: 72K` with its reason: a test that reboots the
# simulated device in one process holds the previous boot's rig in the same heap, which a real reboot frees.
printf '%s\n' tests/firmware/test_*.py | xargs -P "${MPY_JOBS:-$(nproc)}" -I{} sh -c \
  'heap=$(sed -n "s/^# mpy-heapsize: \([0-9]*K\).*/\1/p" "$1"); heap=${heap:-64K}
   .venv/bin/micropython -X heapsize=$heap tests/mpy_runner.py "$1" >"$outputs/$(basename "$1").out" 2>&1' _ {}
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
