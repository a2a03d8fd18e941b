"""The hub as `python -m cloud.hub run` runs it, in a process of its own on a broker the caller
started (bench/hub_ingest.py, bench/shelter.py): what it costs in CPU, memory and disk writes is
its own process's (rigs/proc.py reads them).

- `HubProcess(data_dir, pki, broker_port, log_path, household=None)`: `.start()` waits until the hub
  has subscribed (or fails naming its log), `.pid`, `.stop()` (SIGTERM, as systemd stops it).
  household: the household file it routes by (`--household`); none: the default single feeder.
"""

import os
import subprocess
import sys
import time

from cloud.hub.processes import end_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30  # a clean stop joins every rule's thread and writes the last checkpoint


class HubProcess:
    def __init__(self, data_dir, pki, broker_port, log_path, household=None):
        self.log_path = log_path
        self.command = [
            sys.executable,
            "-m",
            "cloud.hub",
            "run",
            "--broker-port",
            str(broker_port),
            "--data-dir",
            data_dir,
            "--pki",
            pki.dir,
        ]
        if household is not None:
            self.command += ["--household", household]
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while "subscribed to" not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(
                    "bench: the hub did not subscribe within %d s; its log %s ends: %s"
                    % (START_TIMEOUT_S, self.log_path, self.output()[-500:])
                )
            time.sleep(0.05)
        return self

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc is not None:
            end_process(self.proc, timeout_s=STOP_TIMEOUT_S)
            self.proc = None
