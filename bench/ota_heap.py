"""The heap an update's download needs on MicroPython's unix port: the smallest heap in which it stages.

    .venv/bin/python bench/ota_heap.py      (make bench runs it)

The same stack as bench/ota_hub.py (the hub's `offer`, mosquitto over mutual TLS, the hub's HTTPS server,
the whole firmware on MicroPython with boot.py's selector) with the device's heap made smaller, HEAPS from
the integration tests' 128K down, RUNS runs each on a fresh flash, until a heap where no run stages. Each
run: the offer, then the device's `staged` line, or its FAILED reason (a MemoryError: the step's
allocation that found no room), or nothing within TIMEOUT_S.

On the unix port mbedTLS allocates from the MicroPython heap (on the ESP32 from the IDF's), so this is the
download's whole need there: the firmware's modules, the MQTT session and the download's HTTPS one. The
figure that matters is the margin below 128K, where test_device_ota_resume.py once failed under load
(firmware/README.md, "Over-the-air updates", Heap).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cloud.hub import jobs  # noqa: E402
from cloud.topology import THING  # noqa: E402
from rigs.device import BootingDevice, rig_config, scratch_broker  # noqa: E402
from rigs.ota import VERSION, build_release, start_hub  # noqa: E402

COMMAND_LINE = ".venv/bin/python bench/ota_heap.py (make bench)"
HEAPS = ("128K", "124K", "120K", "116K", "112K", "108K")
RUNS = 3
TIMEOUT_S = 60


def one_run(workdir, pki, broker, releases, modulus, name, heap):
    """'staged', or why not (the FAILED reason, or no outcome)."""
    hub = start_hub(os.path.join(workdir, "hub-" + name), pki, broker.port)
    device = BootingDevice(os.path.join(workdir, "flash-" + name), pki,
                           rig_config(broker.port, ota={"release_key": modulus}), heapsize=heap)
    try:
        device.start().wait_up(30)
        job = jobs.offer(hub.data_dir, THING, VERSION, releases, "localhost", hub.https_port)
        prefix = "ota: %s: " % job["jobId"]
        while True:
            line = device.expect(prefix, timeout_s=TIMEOUT_S)[len(prefix):]
            if line.startswith("staged"):
                return "staged"
            if line.startswith("FAILED"):
                return line
    except AssertionError as error:  # no line in time, or the device ended
        return "no outcome (%s)" % str(error)[:80]
    finally:
        device.kill()
        hub.stop()


def main():
    print("command: " + COMMAND_LINE)
    print("release %s through the hub, the device's heap (unix port) from 128K down, %d runs each" % (
        VERSION, RUNS))
    with scratch_broker() as (workdir, pki, broker):
        releases, modulus = build_release(os.path.join(workdir, "release"), os.path.join(workdir, "keys"))
        smallest = None
        for heap in HEAPS:
            outcomes = [one_run(workdir, pki, broker, releases, modulus, "%s-%d" % (heap, run), heap)
                        for run in range(RUNS)]
            staged = outcomes.count("staged")
            print("  heap %-5s staged %d of %d%s" % (heap, staged, RUNS, "".join(
                "\n      " + outcome for outcome in sorted(set(outcomes)) if outcome != "staged")))
            if staged == RUNS:
                smallest = heap
            if not staged:
                break
    print("  smallest heap in which every run staged: %s" % smallest)


if __name__ == "__main__":
    main()
