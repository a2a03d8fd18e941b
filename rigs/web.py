"""The page's rig (tests/integration/test_web_*.py and bench/web.py): mosquitto, the hub, the firmware
on MicroPython, `python -m web` as a process, and Debian's chromium driven by Selenium.

- `WebServer(*args, log_path=None)`: `python -m web --port <free> *args`, its output to log_path;
  `.start()` waits until it answers (or fails naming its output), `.url`, `.output()`, `.stop()`,
  `.run_to_exit()` for a start that must be refused.
- `Stack(workdir, pki, servo_wait=True, feeding=None, press_limit="30/10", web_args=())`: a context
  manager with `.broker`, `.hub`, `.device` (rigs.device.Device, started and up), `.web` (a WebServer on
  the hub, with web_args added).
- `part(name, thing=THING)`: the CSS selector of a part of a feeder's card on the page (web/README.md);
  `element(browser, name, thing=THING)`: that element.
- `chrome(width, height, tz=None)`: a headless Chromium WebDriver (the system browser and driver, never
  a download), in time zone tz (its TZ) when given; `viewport(driver, width, height)` emulates a
  phone's (or any) viewport in it, `viewport(driver)` ends that.
"""

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from cloud.hub.broker import Broker
from cloud.hub.hub import Hub
from cloud.hub.processes import end_process, free_port
from cloud.topology import THING
from rigs.device import Device, rig_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
START_TIMEOUT_S = 20


class WebServer:
    def __init__(self, *args, env=None, log_path=None):
        self.port = free_port()
        self.log_path = log_path or os.devnull
        self.url = "http://127.0.0.1:%d" % self.port
        # The single feeder unless the test names a household: never the checkout's household.json.
        if "--household" not in args:
            args += ("--household", os.path.join(ROOT, "no-such-household.json"))
        self.command = [sys.executable, "-m", "web", "--port", str(self.port), *[str(a) for a in args]]
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("web exited (rc %s): %s" % (self.proc.returncode, self.output()))
            try:
                with urllib.request.urlopen(self.url + "/static/style.css", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "web did not answer within %d s" % START_TIMEOUT_S
                time.sleep(0.1)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def run_to_exit(self, timeout_s=20):
        """For a start that must be refused: (exit status, output)."""
        done = subprocess.run(self.command, cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout_s)
        return done.returncode, done.stdout + done.stderr

    def stop(self):
        if self.proc is not None:
            end_process(self.proc)
            self.log.close()
            self.proc = None


class Stack(contextlib.ExitStack):
    def __init__(self, workdir, pki, servo_wait=True, feeding=None, press_limit="30/10", web_args=()):
        super().__init__()
        self.workdir, self.pki = str(workdir), pki
        self.servo_wait, self.feeding, self.press_limit = servo_wait, feeding, press_limit
        self.web_args = web_args

    def __enter__(self):
        super().__enter__()
        try:
            self.broker = Broker(self.pki, os.path.join(self.workdir, "broker")).start()
            self.callback(self.broker.stop)
            # Checkpoints every second (3 min on a real hub), so the page's ledger panel shows one.
            self.hub = Hub(os.path.join(self.workdir, "hub"), self.pki, "127.0.0.1", self.broker.port,
                           checkpoint_interval_s=1).start()
            self.callback(self.hub.stop)
            sections = {"telemetry_interval_s": 10, "sim": {"servo_wait": self.servo_wait}}
            if self.feeding:
                sections["feeding"] = self.feeding
            self.device = Device(os.path.join(self.workdir, "flash"), self.pki,
                                 rig_config(self.broker.port, **sections))
            self.device.start()
            self.callback(self.device.kill)
            self.device.wait_up()
            self.web = WebServer("--data-dir", self.hub.data_dir, "--pki", self.pki.dir,
                                 "--broker-port", self.broker.port, "--press-limit", self.press_limit,
                                 *self.web_args, log_path=os.path.join(self.workdir, "web.log")).start()
            self.callback(self.web.stop)
        except BaseException:
            self.close()
            raise
        return self


def part(name, thing=THING):
    return '#feeder-%s [data-part="%s"]' % (thing, name)


def element(browser, name, thing=THING):
    """The part `name` of feeder `thing`'s card (Selenium)."""
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, part(name, thing))


def chrome(width=1100, height=1500, tz=None):
    """A desktop window has a minimum width of about 500 px: narrower is viewport()'s."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=%d,%d" % (width, height)):
        options.add_argument(flag)
    env = dict(os.environ, TZ=tz) if tz else None  # chromedriver starts the browser with its own env
    return webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=options)


def viewport(driver, width=None, height=None):
    """Emulate a phone's viewport of width x height CSS pixels (scale 1); no size: the window's again."""
    if width is None:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    else:
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
