"""What both local demos show and how: the firmware process, its servo writes, and the step titles.

`make demo` (tools/demo.py, the self-hosted hub) and `make rehearsal` (tools/aws_rehearsal.py, the boto3
path on moto) both run the real firmware on MicroPython's unix port with a fresh flash, and print
what every part did.
"""

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from cloud.handlers import projector
from cloud.hub.processes import end_process
from tools import device as device_tool

PKI_DIR = os.path.join(device_tool.ROOT, ".pki")
PRESSES = ("SINGLE", "DOUBLE", "LONG")
EXPECTED_BOWLS = {event: list(bowls) for event, bowls in projector.BOWLS.items()}  # as a result lists them
UP_TIMEOUT_S = 20


class DemoFailed(RuntimeError):
    """A step did not show what it should; the message says which and what was seen instead."""


class DeviceProcess:
    """The firmware on the unix port; its output lines are collected by a thread."""

    def __init__(self, flash_dir, pki, broker_port, **mqtt):
        self.config = device_tool.device_config(broker_port, mqtt=mqtt)
        self.flash = device_tool.prepare_flash(flash_dir, pki, self.config, fresh=True)
        self.trace_path = os.path.join(self.flash, self.config["sim"]["trace"])
        self.lines = queue.Queue()
        self.proc = device_tool.start(self.flash, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, prefix, timeout_s):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise DemoFailed("the device did not print %r within %d s" % (prefix, timeout_s)) from None
            if line is None:
                raise DemoFailed("the device exited (rc %s) before %r" % (self.proc.wait(), prefix))
            say("  device| " + line)
            if line.startswith(prefix):
                return line

    def print_output(self):
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                say("  device| " + line)

    def trace(self):
        if not os.path.exists(self.trace_path):
            return []
        with open(self.trace_path) as f:
            return [tuple(int(x) for x in line.split()) for line in f if len(line.split()) == 3]

    def stop(self):
        end_process(self.proc)
        self.proc.stdout.close()


def say(text=""):
    print(text, flush=True)


def step(title):
    say()
    say("== " + title)


def show_servo_writes(writes, servos):
    """One line per PWM write of this step, in ms from its first; a 0 pulse is the servo detached."""
    bowl_of_pin = {spec["pin"]: bowl for bowl, spec in servos.items()}
    if not writes:
        say("  servo| no PWM write")
        return
    first = writes[0][0]
    for ticks_us, pin, duty_ns in writes:
        pulse = "pulse %d us" % (duty_ns // 1000) if duty_ns else "off (detached)"
        say("  servo| +%4d ms pin %d (%s) %s" % ((ticks_us - first) // 1000, pin, bowl_of_pin[pin], pulse))


def stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def run(tell, stopping_title, success):
    """Run tell(stack, workdir) (the demo's steps), then stop what it registered on the stack; remove
    the workdir. Returns the exit status: 0 with `success` (formatted with the seconds taken) printed,
    1 when a step failed or a part would not start, 130 on Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    began = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="cat-feeder-demo-")
    try:
        with contextlib.ExitStack() as stack:
            tell(stack, workdir)
            step(stopping_title)
        say("stopped all three")
    except DemoFailed as failure:
        print("demo: FAILED: %s" % failure, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted; everything it started is stopped", file=sys.stderr, flush=True)
        return 130
    except Exception as error:  # a part that would not start, an AWS call moto refused, ...
        traceback.print_exc()
        print("demo: FAILED: %s: %s" % (type(error).__name__, error), file=sys.stderr, flush=True)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    say("demo: OK in %.1f s: %s" % (time.monotonic() - began, success))
    return 0
