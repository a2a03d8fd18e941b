"""A process's counters from Linux's /proc (proc(5)), for the benchmarks that measure the hub and its
broker from outside (bench/hub_ingest.py, bench/shelter.py).

- `io_counters(pid)`: (write_bytes, wchar) of /proc/PID/io: bytes sent towards the block device,
  bytes passed to write calls.
- `cpu_seconds(pid)`: user + system CPU time the process has used (utime + stime of /proc/PID/stat).
- `memory_bytes(pid)`: (resident now, resident at its peak): VmRSS and VmHWM of /proc/PID/status.
- `Usage(pid)`: `.start()` notes the CPU time, `.stop()` returns (CPU share of one core over the span,
  resident bytes now, peak resident bytes).
"""

import os
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def io_counters(pid):
    with open("/proc/%d/io" % pid) as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["write_bytes"]), int(fields["wchar"])


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        # The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def memory_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        fields = dict(line.split(":", 1) for line in f.read().splitlines())
    kib = [int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")]
    return kib[0] * 1024, kib[1] * 1024


class Usage:
    def __init__(self, pid):
        self.pid = pid
        self.cpu = self.at = None

    def start(self):
        self.cpu, self.at = cpu_seconds(self.pid), time.monotonic()
        return self

    def stop(self):
        share = (cpu_seconds(self.pid) - self.cpu) / (time.monotonic() - self.at)
        return (share, *memory_bytes(self.pid))
