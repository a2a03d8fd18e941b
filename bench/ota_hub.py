"""An update over the air on the local stack: size and time of a typical release (issue 23's benchmark).

    .venv/bin/python bench/ota_hub.py      (make bench runs it)

A release of this firmware (`make release`'s tools/release.build, a throwaway key) offered with the hub's
`offer` (what `make ota` runs) to the whole firmware on MicroPython's unix port (128K heap), through
mosquitto over mutual TLS and the hub's jobs service and HTTPS server, all on loopback (rigs/device.py's
BootingDevice, so the restart runs boot.py's selector). RUNS runs, each on a fresh flash; per run:
- download: from the offer to the device's `staged` line (notify-next, the manifest judged, every file
  over the one kept HTTPS connection, 1 KB a loop iteration, then otastage.finish's checks again), and
  the HTTPS connections the hub's file server accepted for it;
- switch: from the restart to the job SUCCEEDED on the hub (boot.py's selector, boot, connect,
  confirmation, `$next/get`, the outcome);
- and the round trips of commands sent one at a time while the download runs, against IDLE_COMMANDS with
  no update (the loop's latency, which the download must not spoil).
Loopback has no Wi-Fi and the unix port is not the ESP32-C3 (where a mutual-TLS handshake costs far
more), so these are the transport's own costs, a lower bound for a board.
"""

import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cloud.hub import jobs  # noqa: E402
from cloud.topology import THING  # noqa: E402
from rigs.device import ACTION, BootingDevice, Observer, command, rig_config, scratch_broker, wait_for  # noqa: E402
from rigs.ota import VERSION, build_release, job_status, start_hub  # noqa: E402
from tools.mqttc import MqttClient  # noqa: E402

COMMAND_LINE = ".venv/bin/python bench/ota_hub.py (make bench)"
RUNS = 3
COMMAND_PAUSE_S = 0.05
IDLE_COMMANDS = 10


def round_trips(pki, port, observer, prefix, until):
    """One command at a time, each answered before the next (COMMAND_PAUSE_S apart), until
    until(commands sent) is true: each one's round trip in ms, from its publish to its result."""
    publisher = MqttClient(pki, port, "publisher")
    times = []
    try:
        while not times or not until(len(times)):
            command_id = "%s-%d" % (prefix, len(times))
            sent = time.monotonic()
            publisher.publish(ACTION, command(command_id), qos=1)
            observer.collect([command_id], 30)
            times.append((time.monotonic() - sent) * 1000)
            time.sleep(COMMAND_PAUSE_S)
    finally:
        publisher.close()
    return times


def one_run(workdir, pki, broker, releases, modulus, run):
    hub = start_hub(os.path.join(workdir, "hub-%d" % run), pki, broker.port)
    device = BootingDevice(os.path.join(workdir, "flash-%d" % run), pki,
                           rig_config(broker.port, ota={"release_key": modulus}, sim={"servo_wait": False}))
    observer = Observer(pki, broker.port, client_id="bench-observer-%d" % run)
    try:
        device.start().wait_up()
        idle = round_trips(pki, broker.port, observer, "idle%d" % run, lambda sent: sent >= IDLE_COMMANDS)
        staged = threading.Event()
        started = time.monotonic()
        job = jobs.offer(hub.data_dir, THING, VERSION, releases, "localhost", hub.https_port)

        def wait_staged():
            device.expect("ota: %s: staged" % job["jobId"], timeout_s=60)
            staged.set()

        waiter = threading.Thread(target=wait_staged, daemon=True)
        waiter.start()
        during = round_trips(pki, broker.port, observer, "ota%d" % run, lambda sent: staged.is_set())
        waiter.join(60)
        download_s = time.monotonic() - started
        connections = hub.files.connections
        device.expect("ota: %s staged: restarting" % job["jobId"])
        restart = time.monotonic()
        device.restarted()
        wait_for(lambda: job_status(hub, job["jobId"])[0] == "SUCCEEDED", 30, "SUCCEEDED")
        return download_s, time.monotonic() - restart, idle, during, connections
    finally:
        observer.close()
        device.kill()
        hub.stop()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    with scratch_broker() as (workdir, pki, broker):
        releases, modulus = build_release(os.path.join(workdir, "release"), os.path.join(workdir, "keys"))
        target = os.path.join(releases, VERSION)
        files = len(os.listdir(target))
        size = sum(os.path.getsize(os.path.join(target, name)) for name in os.listdir(target))
        runs = [one_run(workdir, pki, broker, releases, modulus, run) for run in range(RUNS)]
    idle = [ms for run in runs for ms in run[2]]
    during = [ms for run in runs for ms in run[3]]
    print("command: " + COMMAND_LINE)
    print("release %s: %d files (manifest and signature included), %d bytes; %d runs, median (min-max)"
          % (VERSION, files, size, RUNS))
    for label, values in (("offer -> staged (download, verify, stage)", [r[0] for r in runs]),
                          ("restart -> SUCCEEDED on the hub", [r[1] for r in runs])):
        print("  %-44s %6.2f s (%.2f-%.2f)" % (label, statistics.median(values), min(values), max(values)))
    print("  throughput %.0f KB/s over %s HTTPS connections (per run)" % (
        size / 1024 / statistics.median([r[0] for r in runs]), "/".join(str(r[4]) for r in runs)))
    for label, values in (("command round trip, no update", idle),
                          ("command round trip, downloading", during)):
        print("  %-44s p50 %5.1f ms  p95 %5.1f ms  max %5.1f ms  (%d commands)" % (
            label, percentile(values, 0.5), percentile(values, 0.95), max(values), len(values)))


if __name__ == "__main__":
    main()
