"""The schedule section of the page in headless Chromium against the hub and mosquitto, with a device
following the shadow contract (tools/shadow_device.py): a slot saved on the page reaches the device,
a bad one is one line and records nothing, the next feeding and the scheduled feedings are in the
household's time (Australia/Sydney) while the browser runs in America/New_York, pause, and the API's
guards (session, CSRF)."""

import json
import os

import pytest

from cloud.hub.broker import Broker
from cloud.hub.hub import Hub
from cloud.topology import THING, states_topic
from rigs.device import wait_for
from rigs.web import ROOT, WebServer, chrome
from tests.integration.test_schedule_hub import ledger_events
from tests.integration.web_client import PageClient
from tools.shadow_device import ShadowDevice

WAIT_S = 20
ARTIFACTS = os.path.join(ROOT, "tests", "artifacts", "web")
HOUSEHOLD = {
    "timezone": "Australia/Sydney",
    "schedule_min_gap_min": 90,
    "things": [{"thing": THING, "name": "Kitchen", "role": "feeder"}],
}


@pytest.fixture(scope="module")
def stack(pki, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("web-schedule")
    household = workdir / "household.json"
    household.write_text(json.dumps(HOUSEHOLD))
    broker = Broker(pki, str(workdir / "broker")).start()
    hub = Hub(str(workdir / "hub"), pki, "127.0.0.1", broker.port).start()
    device = ShadowDevice(pki, broker.port, THING, client_id="shadow-stand-in").start()
    web = WebServer(
        "--data-dir",
        hub.data_dir,
        "--pki",
        pki.dir,
        "--broker-port",
        broker.port,
        "--household",
        str(household),
        log_path=str(workdir / "web.log"),
    ).start()
    try:
        yield hub, device, web
    finally:
        web.stop()
        device.stop()
        hub.stop()
        broker.stop()


@pytest.fixture(scope="module")
def browser(stack):
    driver = chrome(tz="America/New_York")
    yield driver
    driver.quit()


def shot(browser, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    browser.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))


def section(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f"[data-part=schedule][aria-label='Schedule of {THING}']")
    )


def part(browser, name):
    from selenium.webdriver.common.by import By

    return section(browser).find_element(By.CSS_SELECTOR, f"[data-part={name}]")


def wait_part(browser, name, predicate, what):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S, poll_frequency=0.05).until(
        lambda d: predicate(part(d, name).text), "waiting for " + what
    )


def changes(hub):
    return ledger_events(hub, "ScheduleChanged")


def fill(browser, slot, at, event="LONG"):
    from selenium.webdriver.support.ui import Select

    form = part(browser, "schedule-form")
    Select(form.find_element("name", "slot")).select_by_value(str(slot))
    time_input = form.find_element("name", "at")
    browser.execute_script("arguments[0].value = arguments[1]", time_input, at)
    Select(form.find_element("name", "event")).select_by_value(event)
    part(browser, "schedule-save").click()


def test_a_slot_saved_on_the_page_reaches_the_feeder(stack, browser):
    hub, device, web = stack
    browser.get(web.url + "/")
    wait_part(browser, "schedule-status", lambda t: t.startswith("No schedule yet."), "the empty schedule")
    fill(browser, 0, "07:30")
    wait_part(browser, "schedule-message", lambda t: t.startswith("Saved as version 1"), "saved")
    device.wait_applied(1)
    assert device.desired["slots"] == [{"id": 0, "at": 450, "event": "LONG", "portions": 1, "days": 127}]
    (change,) = changes(hub)
    assert change["detail"]["origin"] == "page" and change["detail"]["action"] == "set"
    wait_for(lambda: (hub.store.get("schedule#" + THING)[0] or {}).get("reported"), 5, "the report")
    browser.refresh()
    wait_part(browser, "schedule-status", lambda t: "the feeder runs version 1" in t, "the report shown")
    # The household's time, not the viewer's (New York) nor UTC.
    next_text = part(browser, "schedule-next").text
    assert "07:30" in next_text and "Australia/Sydney time" in next_text, next_text
    rows = section(browser).find_elements("css selector", "[data-part=schedule-slots] tbody tr")
    assert [r.text for r in rows] == ["0 07:30 Both bowls 1 every day Remove"]
    shot(browser, "schedule-1-saved")


def test_a_bad_slot_is_one_line_and_records_nothing(stack, browser):
    hub, device, web = stack
    before = len(changes(hub))
    fill(browser, 1, "08:30")
    wait_part(browser, "schedule-message", lambda t: "apart" in t, "the refusal")
    text = part(browser, "schedule-message").text
    assert "schedule_min_gap_min (90 min)" in text and "\n" not in text, text
    assert part(browser, "schedule-message").get_attribute("data-kind") == "error"
    assert len(changes(hub)) == before and device.version == 1
    shot(browser, "schedule-2-refused")


def test_pause_and_the_scheduled_feedings_in_the_households_time(stack, browser, pki):
    from tools.mqttc import MqttClient

    hub, device, web = stack
    part(browser, "schedule-pause").click()
    wait_part(browser, "schedule-message", lambda t: t.startswith("Saved as version 2"), "paused")
    device.wait_applied(2)
    assert device.desired["paused"] is True
    # The feeder reports a slot it could not feed (it was off): a `missed` scheduled result.
    due = 1796416200  # 2026-12-04 20:30 UTC = Sat 5 Dec 07:30 in Sydney (AEDT)
    result = {
        "v": 1,
        "type": "result",
        "thing": THING,
        "seq": 1,
        "id": "sch-1-0-20261205-1",
        "status": "missed",
        "bowls": [],
        "at": due + 7200,
        "origin": "schedule",
        "due": due,
    }
    with MqttClient(pki, hub.port, "device", client_id="results-stand-in") as client:
        client.publish(states_topic(THING), json.dumps(result).encode(), qos=1)
    wait_for(lambda: hub.store.get("press#sch-1-0-20261205-1")[0], 5, "the result projected")
    browser.refresh()
    wait_part(browser, "schedule-pause", lambda t: t == "Resume", "the resume button")
    wait_part(browser, "schedule-feedings", lambda t: "Missed" in t, "the missed feeding")
    assert part(browser, "schedule-feedings").text == "Sat 5 Dec, 07:30: Missed (feeder off or no clock)"
    assert "paused" in part(browser, "schedule-status").text
    # Recent presses: the scheduled feeding's row says so (it has no press, no gesture).
    row = browser.find_element("css selector", '[data-press-id="sch-1-0-20261205-1"] td.bowl')
    assert row.text == "-\nscheduled", row.text
    shot(browser, "schedule-3-paused")


def test_the_api_is_guarded_as_a_press(stack):
    hub, device, web = stack
    before = len(changes(hub))
    page = PageClient(web.url)
    body = json.dumps({"thing": THING, "action": "resume"})
    status, _, answer = page.request("POST", "/api/schedule", body, {"Content-Type": "application/json"})
    assert status == 401, answer
    page.open_page()
    status, _, answer = page.request("POST", "/api/schedule", body, {"Content-Type": "application/json"})
    assert status == 403 and "CSRF" in answer["error"]
    headers = {"Content-Type": "application/json", "X-CSRF-Token": page.csrf}
    for message, said in (
        ({"thing": "attic", "action": "pause"}, "thing: expected one of cat-feeder"),
        ({"thing": THING, "action": "explode"}, "action: expected one of"),
        ({"thing": THING, "action": "set", "slot": {"id": 0}}, "slots[0]: expected an object"),
    ):
        status, _, answer = page.request("POST", "/api/schedule", json.dumps(message), headers)
        assert status == 400 and said in answer["error"], answer
    assert len(changes(hub)) == before
    status, _, answer = page.request("POST", "/api/schedule", body, headers)
    assert status == 202 and answer["version"] == before + 1
