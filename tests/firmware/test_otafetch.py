"""otafetch.py's interruptions (docs/protocol.md, "Updates over the air"): a connection that cannot be made,
its TLS handshake short of heap included (MemoryError, on a fragmented heap: firmware/README.md, Heap), is
an interruption, tried again after RETRY_MS, and the update fails only after MAX_FAILURES in a row. The
kept connection: the next file's request goes over it; one the server closed meanwhile is replaced at the
next step without counting an interruption, where a new connection closed before its status line is one;
close() closes it. The download itself, through the hub: tests/integration/test_device_ota_*.py. On
CPython and MicroPython."""

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


class Connection:
    """Stands in for a TLS socket: answers each request with the next of `responses` (bytes; b"": the
    server closed it), records the requests."""

    def __init__(self, responses):
        self.responses, self.sent, self.closed = responses, [], False
        self.pending = b""

    def write(self, data):
        self.sent.append(bytes(data))
        self.pending = self.responses.pop(0) if self.responses else b""

    def readline(self):
        end = self.pending.find(b"\n") + 1 or len(self.pending)
        line, self.pending = self.pending[:end], self.pending[end:]
        return line

    def readinto(self, buf, size):
        got = self.pending[:size]
        buf[:len(got)] = got
        self.pending = self.pending[len(got):]
        return len(got)

    def close(self):
        self.closed = True


class Poller:
    """Stands in for select.poll: every registered stream has bytes."""

    def register(self, stream, mask):
        pass

    def unregister(self, stream):
        pass

    def poll(self, timeout):
        return [1]


class Connects:
    """Stands in for Download._connect: hands out the given connections in turn."""

    def __init__(self, connections):
        self.connections, self.calls = connections, 0

    def __call__(self):
        self.calls += 1
        return self.connections.pop(0)


def answer(body):
    return b"HTTP/1.1 206 Partial Content\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def kept_download(root, hal, connections):
    fetch = otafetch.Download("job-1", "1.5.0", "https://hub.lan:8443/ota/1.5.0/", root, {}, None, hal,
                              lambda line: None)
    fetch._connect = Connects(connections)
    fetch.poller = Poller()
    return fetch


def test_the_next_file_goes_over_the_kept_connection_and_one_closed_meanwhile_is_replaced_uncounted():
    root = tmpdir()
    try:
        hal = hal_sim.HAL()
        first = Connection([answer(b"manifest"), b""])  # closed by the server after its first response
        second = Connection([answer(b"signature")])
        fetch = kept_download(root, hal, [first, second])
        fetch.step(hal.ticks_ms())  # manifest.txt asked
        fetch.step(hal.ticks_ms())  # and read: the connection kept
        assert fetch.index == 1 and not first.closed
        fetch.step(hal.ticks_ms())  # manifest.sig asked over it: closed
        assert first.closed and len(first.sent) == 2 and b"Connection" not in first.sent[0]
        assert fetch.failures == 0 and fetch.wait_ms(5000) == 0  # not an interruption: no RETRY_MS
        fetch.step(hal.ticks_ms())  # a new connection, at once
        fetch.step(hal.ticks_ms())
        assert fetch._connect.calls == 2 and fetch.index == 2 and fetch.failures == 0
        with open(root + "/ota/a/manifest.sig", "rb") as f:
            assert f.read() == b"signature"
        assert not second.closed
        fetch.close()  # the download ends: no socket left open
        assert second.closed
    finally:
        remove_tree(root)


def test_a_new_connection_closed_before_its_status_line_is_an_interruption():
    root = tmpdir()
    try:
        hal = hal_sim.HAL()
        fetch = kept_download(root, hal, [Connection([b""])])
        fetch.step(hal.ticks_ms())
        assert fetch.failures == 1 and fetch.wait_ms(5000) == otafetch.RETRY_WAIT_MS
        assert "before the status line" in fetch.last_error
    finally:
        remove_tree(root)
