"""The household page (web/): click -> outcome on the page, on the local stack.

    .venv/bin/python bench/web.py            (make bench runs it)

CLICKS clicks, one at a time, cycling over the left, right and both buttons, in headless Chromium
(Debian's, driven by Selenium) on the page served by `python -m web` against the self-hosted hub,
mosquitto and the firmware on MicroPython's unix port (the rig of rigs/web.py). Each
click's time is measured in the page itself (web/static/app.js: performance.now() from the click
handler to the outcome shown): the POST with its CSRF token, cloud/press.py publishing the press over
mutual TLS, the hub's ledger commit, the feeds rule, the device's dispense and result, the result's
ledger commit and projection, the server-sent event and the render. The servo's travel and dwell are
skipped (sim.servo_wait false) and the page's press limit is raised for the run. The device's cap is
CAP portions per bowl an hour and a day, so the first 24 clicks are dispensed and the rest capped:
both kinds of outcome, the capped one answered within milliseconds (the race of issue 17, where the
outcome came before the answer to the click's POST and waited for the next refresh). An outcome is
late when it took as long as the page's refresh (web/backend.py REFRESH_S). Goal: p99 under 200 ms,
none late.
"""

import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.device import percentile  # noqa: E402
from cloud.hub.pki import Pki  # noqa: E402
from rigs.web import Stack, chrome, element  # noqa: E402
from web.backend import REFRESH_S  # noqa: E402

CLICKS = 50
CAP = 16
BUTTONS = ("feed-left", "feed-right", "feed-both")
GOAL_MS = 200
TIMEOUT_S = 10


def main():

    with tempfile.TemporaryDirectory() as workdir:
        pki = Pki(os.path.join(workdir, "pki")).ensure()
        cap = {"max_portions_per_hour": CAP, "max_portions_per_day": CAP}
        rig = {"servo_wait": False, "feeding": cap, "press_limit": "1000/1"}
        with Stack(os.path.join(workdir, "stack"), pki, **rig) as stack:
            browser = chrome()
            try:
                browser.get(stack.web.url + "/")
                deadline = time.monotonic() + TIMEOUT_S
                while element(browser, "status").get_attribute("data-status") != "online":
                    assert time.monotonic() < deadline, "the page never showed the device online"
                    time.sleep(0.05)
                for n in range(CLICKS):
                    element(browser, BUTTONS[n % len(BUTTONS)]).click()
                    deadline = time.monotonic() + TIMEOUT_S
                    while browser.execute_script("return window.feederTimings.length") <= n:
                        assert time.monotonic() < deadline, "no outcome for click %d" % (n + 1)
                        time.sleep(0.005)
                timings = browser.execute_script("return window.feederTimings")
            finally:
                browser.quit()
    times = [timing["ms"] for timing in timings]
    p50, p99 = percentile(times, 50), percentile(times, 99)
    late = [t for t in times if t >= REFRESH_S * 1000]
    print("click -> outcome on the page, %d clicks: p50 %.1f ms, p99 %.1f ms, max %.1f ms; late (>= %.0f s, "
          "the refresh): %d" % (len(times), p50, p99, max(times), REFRESH_S, len(late)))
    for outcome in sorted({timing["outcome"] for timing in timings}):
        mine = [t["ms"] for t in timings if t["outcome"] == outcome]
        print("  %d %s: p50 %.1f ms, max %.1f ms" % (len(mine), outcome, percentile(mine, 50), max(mine)))
    met = p99 < GOAL_MS and not late
    print("goal (p99 < %d ms, none late): %s" % (GOAL_MS, "met" if met else "NOT met"))


if __name__ == "__main__":
    main()
