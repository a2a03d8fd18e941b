"""The page in a real headless browser (Debian's chromium, Selenium) against a running hub, mosquitto
and the firmware on MicroPython: each button's outcome, the device going offline and back, the week
and the table, the caps, the ledger's health, times in the viewer's zone (the browser runs in
America/New_York), a 360 px phone. Screenshots of each state go to tests/artifacts/web/
(git-ignored); the README's (docs/web-page.png) is test_web_household.py's."""

import os
import struct
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cloud.handlers.projector import WILL_SLACK_S
from rigs.web import ROOT, Stack, chrome, element, part, viewport

ARTIFACTS = os.path.join(ROOT, "tests", "artifacts", "web")
WAIT_S = 20
ZONE = "America/New_York"  # 4 or 5 hours behind UTC: a time left in UTC cannot pass for local
ZONE_SHOWN = "America/New York time"
EXPECTED = {
    "feed-left": ("dispensed", "Fed: left bowl"),
    "feed-right": ("dispensed", "Fed: right bowl"),
    "feed-both": ("dispensed", "Fed: left + right bowls"),
}


@pytest.fixture(scope="module")
def stack(pki, tmp_path_factory):
    with Stack(tmp_path_factory.mktemp("web"), pki) as running:
        yield running


@pytest.fixture(scope="module")
def browser(stack):
    driver = chrome(tz=ZONE)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def shot(browser, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name + ".png")
    browser.save_screenshot(path)
    return path


def wait_text(browser, name, predicate, what):
    """Part `name` of cat-feeder's card (or the element of CSS selector `#id`), once predicate holds."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(driver):
        element = driver.find_element(By.CSS_SELECTOR, name if name.startswith("#") else part(name))
        return element if predicate(element) else False

    return WebDriverWait(browser, WAIT_S, poll_frequency=0.05).until(ready, "waiting for " + what)


def png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    return struct.unpack(">II", header[16:24])


def colour_at(path, x, y):
    """The (r, g, b) of one pixel of a screenshot (CSS pixels: the browser runs at scale 1)."""
    import matplotlib.image

    pixel = matplotlib.image.imread(path)[int(y), int(x)]
    return tuple(round(float(channel) * 255) for channel in pixel[:3])


def test_open_press_each_button_and_see_the_outcome(stack, browser):
    from selenium.webdriver.common.keys import Keys

    browser.get(stack.web.url + "/")
    assert browser.title == "Cat feeder"
    wait_text(browser, "status", lambda e: e.get_attribute("data-status") == "online", "online")
    assert wait_text(browser, "outcome", lambda e: e.get_attribute("data-outcome"), "a first state").text == (
        "No press yet."
    )
    wait_text(browser, "week-note", lambda e: e.text == "No portions in the last 7 days.", "the empty week")
    assert not element(browser, "week").is_displayed()
    assert element(browser, "week-legend").text == ""  # no key for an empty series
    shot(browser, "1-opened")
    for button_id, (status, text) in EXPECTED.items():
        button = element(browser, button_id)
        assert button.get_attribute("aria-label").startswith("Feed ")
        if button_id == "feed-both":
            button.send_keys(Keys.ENTER)  # the keyboard works as well as a click
        else:
            button.click()
        outcome = wait_text(
            browser, "outcome", lambda e: e.get_attribute("data-outcome") not in ("", "pending"),
            "the outcome of " + button_id,
        )
        assert outcome.get_attribute("data-outcome") == status, outcome.text
        assert outcome.text.startswith(text), outcome.text
        shot(browser, "2-%s-%s" % (button_id, status))
    press_ids = [t["id"] for t in browser.execute_script("return window.feederTimings")]
    assert len(set(press_ids)) == 3
    # Every press went the normal path: each is a FeedRequested event in the hub's ledger.
    from cloud.hub import ledger as ledger_mod

    db = ledger_mod.connect(stack.hub.ledger_path, readonly=True)
    requested = [
        e["detail"]["press_id"] for _, e in ledger_mod.read(db) if e["detail-type"] == "FeedRequested"
    ]
    db.close()
    assert set(press_ids) <= set(requested)


def test_today_and_the_table_show_the_presses_and_a_reload_shows_the_last_one(stack, browser):
    from selenium.webdriver.common.by import By

    wait_text(browser, "today-left", lambda e: e.text == "2", "two left portions today")
    assert element(browser, "today-right").text == "2"
    rows = browser.find_elements(By.CSS_SELECTOR, part("presses") + " tbody tr")
    # Newest first; presses within one second (the ledger's time unit) in any order. Bowls, in words,
    # with the gesture as a detail.
    cells = sorted(r.find_element(By.CSS_SELECTOR, "td.bowl").text.split("\n") for r in rows)
    assert cells == [["Both", "long press"], ["Left", "single press"], ["Right", "double press"]]
    assert all(r.get_attribute("class") == "dispensed" for r in rows)
    assert [r.find_element(By.CSS_SELECTOR, "td.outcome").text for r in rows] == ["Fed"] * 3
    browser.refresh()
    outcome = wait_text(browser, "outcome", lambda e: e.get_attribute("data-outcome"), "a first state")
    newest = browser.find_element(By.CSS_SELECTOR, part("presses") + " tbody tr")
    assert outcome.get_attribute("data-outcome") == "last", outcome.text
    assert outcome.get_attribute("data-press-id") == newest.get_attribute("data-press-id")
    assert outcome.text.startswith("Last press (") and outcome.text.endswith("): Fed."), outcome.text


def test_times_are_the_viewers_local_time(stack, browser):
    from selenium.webdriver.common.by import By

    assert element(browser, "when-zone").text == "(%s)" % ZONE_SHOWN
    for row in browser.find_elements(By.CSS_SELECTOR, part("presses") + " tbody tr"):
        doc, _ = stack.hub.store.get("press#" + row.get_attribute("data-press-id"))
        local = datetime.fromtimestamp(doc["requested_at"], ZoneInfo(ZONE))
        # Today's presses show their clock time alone; any other day (midnight) with the date.
        assert row.find_element(By.CSS_SELECTOR, "td.when").text.endswith(local.strftime("%H:%M:%S"))
    assert "since midnight, %s." % ZONE_SHOWN in element(browser, "today-zone").text


def test_device_goes_offline_and_comes_back(stack, browser):

    # The projector lets a device's own `online` beat a last will within WILL_SLACK_S of it (a session
    # taken over on reconnect); a device killed that soon after connecting would still read online.
    doc, _ = stack.hub.store.get("device#cat-feeder")
    time.sleep(max(0.0, doc["status"]["at"] + WILL_SLACK_S + 1.5 - time.time()))
    stack.device.kill()
    wait_text(browser, "status", lambda e: e.get_attribute("data-status") == "offline", "offline")
    offline = shot(browser, "3-device-offline")
    badge = element(browser, "status").rect
    # The screenshot itself shows it: the badge's background is the page's offline red (#a3120f).
    assert colour_at(offline, badge["x"] + 3, badge["y"] + badge["height"] / 2) == (0xA3, 0x12, 0x0F)
    stack.device.start()
    stack.device.wait_up()
    wait_text(browser, "status", lambda e: e.get_attribute("data-status") == "online", "online again")
    back = shot(browser, "4-device-back")
    badge = element(browser, "status").rect
    assert colour_at(back, badge["x"] + 3, badge["y"] + badge["height"] / 2) == (0x0A, 0x6B, 0x2D)


def test_telemetry_caps_week_and_health(stack, browser):
    from selenium.webdriver.common.by import By

    # The device sends telemetry every 10 s (the rig's interval): outbox depth, dropped, connect errors,
    # and its cap: 128 an hour and 128 a day per bowl (the rig's).
    wait_text(browser, "fact-outbox", lambda e: e.text.isdigit(), "telemetry", )
    assert element(browser, "fact-dropped").text == "0"
    wait_text(browser, "cap-left-hour-text", lambda e: e.text == "2 of 128 in the last hour", "the caps")
    assert element(browser, "cap-left-day-text").text == "2 of 128 in the last 24 h"
    assert element(browser, "next-left").text == "Next portion: allowed now."
    browser.find_element(By.ID, "health-check").click()
    health = wait_text(browser, "#health-verify", lambda e: e.text.startswith("Hash chain intact"), "verify")
    assert health.get_attribute("data-ok") == "true" and health.text.endswith(" events verified.")
    assert "cat-feeder: none" in browser.find_element(By.ID, "health-gaps").text
    checkpoint = browser.find_element(By.ID, "health-checkpoint")
    assert checkpoint.text.startswith("Last signed checkpoint: ") and checkpoint.text.endswith(
        "; the ledger still holds them all."), checkpoint.text
    assert checkpoint.get_attribute("data-ok") == "true"
    # The week: today's row holds the two portions of each bowl; the legend names both bowls.
    wait_text(browser, "week", lambda e: e.is_displayed(), "the week's bars")
    today = browser.find_elements(By.CSS_SELECTOR, part("week") + " .week-row")[-1]
    assert today.text.split("\n") == ["Today", "2", "2"]
    assert element(browser, "week-legend").text.split("\n") == ["left bowl", "right bowl"]
    note = element(browser, "week-note").text
    assert note.startswith("Portions per day, %s: 2 portions" % ZONE_SHOWN), note
    page = shot(browser, "5-full-page")
    width, height = png_size(page)
    assert (width, height) == tuple(browser.execute_script("return [window.innerWidth, window.innerHeight]"))


def test_at_360_px_the_buttons_and_the_outcome_column_stay_on_screen(stack, browser):
    from selenium.webdriver.common.by import By

    viewport(browser, 360, 800)
    try:
        browser.refresh()
        wait_text(browser, "status", lambda e: e.get_attribute("data-status") == "online", "online")
        wait_text(browser, "outcome", lambda e: e.get_attribute("data-outcome") == "last", "the last press")
        assert browser.execute_script("return window.innerWidth") == 360
        for button_id in EXPECTED:
            box = element(browser, button_id).rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360, (button_id, box)
        outcome_column = "{0} th:last-child, {0} td.outcome".format(part("presses"))
        cells = browser.find_elements(By.CSS_SELECTOR, outcome_column)
        assert len(cells) == 4
        for cell in cells:  # on screen without scrolling sideways (the page nor the table)
            box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", cell)
            assert 0 <= box["left"] and box["right"] <= 360 and cell.is_displayed(), (cell.text, box)
        shot(browser, "6-phone-360-top")
        wrap = browser.find_element(By.CSS_SELECTOR, ".table-wrap")
        assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", wrap)
        browser.execute_script("arguments[0].scrollIntoView()", wrap)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
        shot(browser, "6-phone-360")
    finally:
        viewport(browser)
