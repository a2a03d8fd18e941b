"""The page's firmware line and update over the air (issue 23) in headless Chromium, on a hub data folder
whose history projection the test writes as the projector would (cloud/handlers/projector.py), step by
step while the page is open: the base set with an old update's outcome no longer said, an update offered,
in progress, succeeded (the firmware line follows the telemetry), then a newer one rolled back with the
device's reason; every time in the viewer's zone, and the card whole at 360 px."""

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from cloud.handlers.projector import project
from cloud.hub.hub import HISTORY_FILE, LEDGER_FILE
from cloud.hub.ledger import Ledger
from cloud.hub.projection import SqliteStore
from rigs.hubdata import status_event, update_event
from rigs.web import WebServer, chrome, element, viewport
from tests.integration.test_web_browser import shot, wait_text

ZONE = "Asia/Kolkata"  # UTC+5:30: a time left in UTC cannot pass for local
DAY_S = 86400


def telemetry(at, firmware):
    event = status_event("online", at)
    detail = {"v": 1, "type": "telemetry", "thing": "cat-feeder", "firmware": firmware, "at": at}
    return dict(event, **{"detail-type": "DeviceTelemetry", "detail": detail})


def shown(at, now):
    """A moment as the page says it: its clock time today (the viewer's day), else with its date."""
    moment, today = datetime.fromtimestamp(at, ZoneInfo(ZONE)), datetime.fromtimestamp(now, ZoneInfo(ZONE))
    return moment.strftime("%H:%M:%S" if moment.date() == today.date() else "%a %-d %b, %H:%M:%S")


def update_line(browser, state):
    return wait_text(browser, "update", lambda e: e.get_attribute("data-state") == state, "update " + state)


def test_the_page_shows_the_firmware_and_an_update_in_progress_then_its_outcome(tmp_path):
    now = int(time.time())
    Ledger(str(tmp_path / LEDGER_FILE)).close()  # an empty one: the ledger's health reads it
    store = SqliteStore(str(tmp_path / HISTORY_FILE))

    def ledger(*events):
        for event in events:
            project(store, event)

    old = "ota-1_4_0-1"
    ledger(status_event("online", now - 300), telemetry(now - 60, None),
           update_event("UpdateOffered", now - 3 * DAY_S, "1.4.0", old, size=60_000),
           update_event("UpdateFailed", now - 2 * DAY_S, "1.4.0", old, reason="bad signature"))
    web = WebServer("--data-dir", str(tmp_path), log_path=str(tmp_path / "web.log")).start()
    browser = chrome(tz=ZONE)
    try:
        browser.get(web.url + "/")
        base = "Development firmware (flashed from source)"
        wait_text(browser, "firmware", lambda e: e.text == base, "a development board")
        # The old refusal is two days old: no longer said.
        assert not element(browser, "update").is_displayed()
        assert element(browser, "update").get_attribute("data-state") == ""

        offered = now - 50
        ledger(update_event("UpdateOffered", offered, size=67_584))
        assert update_line(browser, "offered").text == (
            "Update to 1.5.0 (66 KB) offered at %s: waiting for the feeder to start it." % shown(offered, now)
        )
        started = now - 40
        ledger(update_event("UpdateStarted", started))
        assert update_line(browser, "started").text == (
            "Updating to 1.5.0 since %s: downloading (66 KB), then restarting into it." % shown(started, now))
        shot(browser, "9-update-started")

        ledger(update_event("UpdateSucceeded", now - 20), telemetry(now - 19, "1.5.0"))
        assert update_line(browser, "succeeded").text == "Updated to 1.5.0 at %s." % shown(now - 20, now)
        wait_text(browser, "firmware", lambda e: e.text == "Firmware 1.5.0", "the new firmware")

        newer = "ota-1_6_0-2"
        ledger(update_event("UpdateOffered", now - 10, "1.6.0", newer, size=70_000),
               update_event("UpdateStarted", now - 9, "1.6.0", newer),
               update_event("UpdateRolledBack", now - 2, "1.6.0", newer, reason="rolled back: running 1.5.0"))
        line = update_line(browser, "rolled_back")
        assert line.text == ("Update to 1.6.0 rolled back at %s: the feeder went back to its previous "
                             "firmware (running 1.5.0)." % shown(now - 2, now))
        assert element(browser, "firmware").text == "Firmware 1.5.0"

        viewport(browser, 360, 800)
        try:
            browser.refresh()
            line = update_line(browser, "rolled_back")
            browser.execute_script("arguments[0].scrollIntoView()", line)
            box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", line)
            assert 0 <= box["left"] and box["right"] <= 360, box
            assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", line)
            assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
            shot(browser, "9-update-rolled-back-360")
        finally:
            viewport(browser)
    finally:
        browser.quit()
        web.stop()
        store.close()
