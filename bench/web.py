"""The household page (web/): click -> outcome on the page, on the local stack.

    .venv/bin/python bench/web.py            (make bench runs it)

CLICKS clicks, one at a time, cycling over the left, right and both buttons, in headless Chromium
(Debian's, driven by Selenium) on the page served by `python -m web` against the self-hosted hub,
mosquitto and the firmware on MicroPython's unix port (the rig of rigs/web.py). Each
click's time is measured in the page itself (web/static/app.js: performance.now() from the click
handler to the outcome shown): the POST with its CSRF token, cloud/press.py publishing the press over
mutual TLS, the hub's ledger commit, the feeds rule, the device's dispense and result, the result's
ledger commit and projection, the server-sent event and the render. The servo's travel and dwell are
skipped (sim.servo_wait false), the device's cap is the rig's (128 portions per bowl per hour and day)
and the page's press limit is raised for the run. Goal: p99 under 200 ms.
"""

import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.device import percentile  # noqa: E402
from cloud.hub.pki import Pki  # noqa: E402
from rigs.web import Stack, chrome  # noqa: E402

CLICKS = 100
BUTTONS = ("feed-left", "feed-right", "feed-both")
GOAL_MS = 200
TIMEOUT_S = 10


def main():
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as workdir:
        pki = Pki(os.path.join(workdir, "pki")).ensure()
        with Stack(os.path.join(workdir, "stack"), pki, servo_wait=False, press_limit="1000/1") as stack:
            browser = chrome()
            try:
                browser.get(stack.web.url + "/")
                deadline = time.monotonic() + TIMEOUT_S
                while browser.find_element(By.ID, "device-status").get_attribute("data-status") != "online":
                    assert time.monotonic() < deadline, "the page never showed the device online"
                    time.sleep(0.05)
                outcomes = {}
                for n in range(CLICKS):
                    browser.find_element(By.ID, BUTTONS[n % len(BUTTONS)]).click()
                    deadline = time.monotonic() + TIMEOUT_S
                    while browser.execute_script("return window.feederTimings.length") <= n:
                        assert time.monotonic() < deadline, "no outcome for click %d" % (n + 1)
                        time.sleep(0.005)
                timings = browser.execute_script("return window.feederTimings")
            finally:
                browser.quit()
    for timing in timings:
        outcomes[timing["outcome"]] = outcomes.get(timing["outcome"], 0) + 1
    times = [timing["ms"] for timing in timings]
    p50, p99 = percentile(times, 50), percentile(times, 99)
    print("click -> outcome on the page, %d clicks: p50 %.1f ms, p99 %.1f ms, max %.1f ms; outcomes %s"
          % (len(times), p50, p99, max(times), outcomes))
    print("goal (p99 < %d ms): %s" % (GOAL_MS, "met" if p99 < GOAL_MS else "NOT met"))


if __name__ == "__main__":
    main()
