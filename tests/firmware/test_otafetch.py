"""otafetch.py's interruptions (docs/protocol.md, "Updates over the air"): a connection that cannot be made,
its TLS handshake short of heap included (MemoryError, on a fragmented heap: firmware/README.md, Heap), is
an interruption, tried again after RETRY_MS, and the update fails only after MAX_FAILURES in a row. The
download itself, through the hub: tests/integration/test_device_ota_*.py. On CPython and MicroPython."""

import hal_sim
import otafetch
import otaverify
from fwtest import raises, remove_tree, tmpdir

NO_HEAP = "memory allocation failed, allocating 3048 bytes"


class Tries:
    """Stands in for Download._connect: each call counted, each raising MemoryError."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        raise MemoryError(NO_HEAP)


def download(root, hal, lines):
    fetch = otafetch.Download("job-1", "1.5.0", "https://hub.lan:8443/ota/1.5.0/", root, {}, None, hal,
                              lines.append)
    fetch._connect = Tries()
    return fetch


def test_a_handshake_short_of_heap_is_an_interruption_tried_again_after_retry_ms():
    root = tmpdir()
    try:
        hal, lines = hal_sim.HAL(), []
        fetch = download(root, hal, lines)
        assert fetch.step(hal.ticks_ms()) is None  # no refusal: the update goes on
        assert fetch._connect.calls == 1 and fetch.failures == 1
        assert fetch.last_error == "manifest.txt: MemoryError('%s',)" % NO_HEAP or (
            fetch.last_error == "manifest.txt: MemoryError('%s')" % NO_HEAP)  # MicroPython's repr, CPython's
        assert fetch.wait_ms(5000) == otafetch.RETRY_WAIT_MS
        hal.sleep_ms(otafetch.RETRY_MS - 1)
        fetch.step(hal.ticks_ms())
        assert fetch._connect.calls == 1  # not before RETRY_MS
        hal.sleep_ms(1)
        fetch.step(hal.ticks_ms())
        assert fetch._connect.calls == 2 and fetch.failures == 2
        assert lines == ["ota: job-1: downloading 1.5.0"]
    finally:
        remove_tree(root)


def test_the_update_fails_after_max_failures_handshakes_short_of_heap_in_a_row():
    root = tmpdir()
    try:
        hal, lines = hal_sim.HAL(), []
        fetch = download(root, hal, lines)
        for _ in range(otafetch.MAX_FAILURES - 1):
            fetch.step(hal.ticks_ms())
            hal.sleep_ms(otafetch.RETRY_MS)
        refused = raises(otaverify.Refused, fetch.step, hal.ticks_ms())
        assert str(refused).startswith("download: %d attempts failed, the last manifest.txt: MemoryError("
                                       % otafetch.MAX_FAILURES)
        assert fetch._connect.calls == otafetch.MAX_FAILURES
    finally:
        remove_tree(root)
