"""The page's alerts section (web/static/incidents.js, GET /api/incidents) in headless Chromium, on a hub
data folder whose incidents projection holds an open incident, a resolved one and a notification that
could not be delivered: each shown where it belongs; the API needs the session like every other."""

import json
import time
import urllib.error
import urllib.request

import pytest

from cloud.handlers import alerts
from cloud.hub import alerting
from cloud.hub.hub import HISTORY_FILE
from cloud.hub.projection import SqliteStore
from rigs.hubdata import result_event
from rigs.web import WebServer, chrome

CONFIG = alerts.settings(json.dumps({"names": {"cat-feeder": "Kitchen"}}))


def incidents_folder(folder):
    SqliteStore(str(folder / HISTORY_FILE)).close()
    store = alerting.open_store(str(folder / alerting.INCIDENTS_FILE))
    now = int(time.time())
    for seq, status in enumerate(("capped", "capped", "dispensed", "interrupted"), start=1):
        alerts.apply(store, CONFIG, result_event(seq, "p%d" % seq, status, now - 100 + seq, reason="cap"))
    store.db.execute(
        "INSERT INTO notification_dead_letters (incident, transition, destination, note, attempts, error,"
        " created_at, at) VALUES ('capped:cat-feeder:1', 'opened', 'json://127.0.0.1:9/...', '{}', 40,"
        " 'the service did not accept it', 0, 0)"
    )
    store.close()


def test_the_page_shows_open_and_resolved_incidents_and_what_could_not_be_delivered(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    incidents_folder(tmp_path)
    web = WebServer("--data-dir", str(tmp_path), log_path=str(tmp_path / "web.log")).start()
    browser = chrome()
    try:
        browser.get(web.url + "/")
        section = WebDriverWait(browser, 15, poll_frequency=0.05).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, "#incidents [data-part=open] li"),
            "the alerts section",
        )
        assert [li.get_attribute("data-kind") for li in section] == ["interrupted"]
        assert "Interrupted dispense: Feeder" in section[0].text  # the household's name for cat-feeder
        resolved = browser.find_elements(By.CSS_SELECTOR, "#incidents [data-part=resolved] li")
        assert [li.get_attribute("data-kind") for li in resolved] == ["capped"]
        assert "(2 times)" in resolved[0].text and "dispensed again" in resolved[0].text
        delivery = browser.find_element(By.CSS_SELECTOR, "#incidents [data-part=delivery]").text
        assert "1 notification(s) could not be delivered" in delivery
        report = browser.execute_async_script(
            "fetch('/api/incidents').then((r) => r.json()).then(arguments[0])"
        )
        assert [i["kind"] for i in report["open"]] == ["interrupted"] and report["pending"] == 0
        with pytest.raises(urllib.error.HTTPError) as refused:  # no session cookie
            urllib.request.urlopen(web.url + "/api/incidents", timeout=5)
        assert refused.value.code == 401
    finally:
        browser.quit()
        web.stop()
