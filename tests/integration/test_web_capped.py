"""The page in headless Chromium on a device whose feeding cap is one portion an hour: the second left
press is `capped`, with the device's reason and when the next portion is allowed, and the outcome
column keeps it whole at 1100 px and at 360 px. Its own module: its device has another config than the
one test_web_browser.py keeps for its whole module.

The outcome race (issue 17): a capped press is answered within milliseconds, so the state carrying its
outcome can reach the page before the answer to its POST does; the page must then show the outcome
from the state it already has, not wait for a later push (the refresh, every 5 s). Here every press's
POST answer is held back until the press's outcome is in the page's table, the race made certain, and
the server's refresh is an hour: an outcome shown must come from a state the page already had."""

import pytest

from rigs.web import Stack, chrome, element, part, viewport
from tests.integration.test_web_browser import shot, wait_text

ZONE = "Asia/Kolkata"  # UTC+5:30 (Chromium names it Asia/Calcutta)
CAP = {"max_portions_per_hour": 1, "max_portions_per_day": 2}
REASON = "cap: left bowl has had 1 portions in the last hour (max_portions_per_hour 1)"  # the device's
# Before the page's script: count the state messages, hold each press's answer until its outcome is in
# the table (then note the count), and note the count when an outcome is shown (a MutationObserver
# runs before any later message can be handled).
RACE = """
window.raceStates = 0;
window.raceLog = [];
const NativeEventSource = window.EventSource;
window.EventSource = class extends NativeEventSource {
  constructor(...args) { super(...args); this.addEventListener("state", () => { window.raceStates += 1; }); }
};
const nativeFetch = window.fetch;
window.fetch = async (url, options) => {
  const response = await nativeFetch(url, options);
  if (url !== "/api/press" || !response.ok) return response;
  const { press_id: id } = await response.clone().json();
  await new Promise((answered) => {
    const look = () => {
      const row = document.querySelector(`tr[data-press-id="${id}"]`);
      if (row && row.className !== "pending") answered(); else setTimeout(look, 2);
    };
    look();
  });
  window.raceLog.push({ id, released: window.raceStates });
  return response;
};
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector('#feeder-cat-feeder [data-part="outcome"]');
  new MutationObserver(() => {
    const entry = window.raceLog.find((e) => e.id === box.dataset.pressId && e.shown === undefined);
    if (entry && !["pending", "error"].includes(box.dataset.outcome)) entry.shown = window.raceStates;
  }).observe(box, { attributes: true, childList: true });
});
"""


@pytest.fixture(scope="module")
def stack(pki, tmp_path_factory):
    refresh = ("--refresh-s", "3600")
    with Stack(tmp_path_factory.mktemp("capped"), pki, feeding=CAP, web_args=refresh) as running:
        yield running


@pytest.fixture(scope="module")
def browser(stack):
    driver = chrome(tz=ZONE)
    driver.implicitly_wait(0)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RACE})
    yield driver
    driver.quit()


def test_a_dispensed_and_a_capped_outcome_show_from_the_state_the_page_has(stack, browser):
    from selenium.webdriver.common.by import By

    browser.get(stack.web.url + "/")
    wait_text(browser, "status", lambda e: e.get_attribute("data-status") == "online", "online")
    # The device's first telemetry (every 10 s) carries its cap.
    wait_text(browser, "next-left", lambda e: e.text == "Next portion: allowed now.", "the cap reported")
    shown = []
    for _ in range(2):
        before = element(browser, "outcome").get_attribute("data-press-id")
        element(browser, "feed-left").click()
        outcome = wait_text(
            browser, "outcome",
            lambda e, before=before: e.get_attribute("data-outcome") not in ("", "pending", "last", "none")
            and e.get_attribute("data-press-id") != before,
            "an outcome",
        )
        shown.append((outcome.get_attribute("data-outcome"), outcome.text))
    assert shown[0] == ("dispensed", shown[0][1]) and shown[0][1].startswith("Fed: left bowl"), shown
    assert shown[1][0] == "capped", shown
    assert shown[1][1].startswith("Not fed: over the feeding cap for the left bowl."), shown
    # The device's reason is behind the toggle.
    details = browser.find_element(By.CSS_SELECTOR, part("outcome") + " details")
    summary = details.find_element(By.TAG_NAME, "summary")
    assert not details.get_attribute("open") and summary.text == "Details"
    summary.click()
    assert details.find_element(By.TAG_NAME, "code").text == REASON
    # Each POST answer came after its outcome was on the page, and each outcome was shown from a state
    # the page already had when the answer came (no reload, no later push: the refresh is an hour).
    log = browser.execute_script("return window.raceLog")
    rows = browser.find_elements(By.CSS_SELECTOR, part("presses") + " tbody tr")
    assert len(log) == 2 and {e["id"] for e in log} == {row.get_attribute("data-press-id") for row in rows}
    assert all(e.get("shown") == e["released"] for e in log), log
    assert len(browser.execute_script("return window.feederTimings")) == 2
    # When the next left portion is allowed: an hour after the first one, in the viewer's time.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    doc, _ = stack.hub.store.get("press#" + log[0]["id"])
    moment = datetime.fromtimestamp(doc["outcome_at"] + 3600, ZoneInfo(ZONE))
    # The page names the day when the moment is not today in the viewer's zone (after 23:00 there).
    same_day = moment.date() == datetime.now(ZoneInfo(ZONE)).date()
    allowed = moment.strftime("%H:%M:%S" if same_day else "%a %-d %b, %H:%M:%S")
    assert shown[1][1].split("\n")[0].endswith("Next portion allowed at %s." % allowed), shown
    next_left = element(browser, "next-left").text
    assert next_left == "Next portion allowed at %s (cap reached)." % allowed
    assert element(browser, "cap-left-hour-text").text == "1 of 1 in the last hour"
    assert element(browser, "cap-left-day-text").text == "1 of 2 in the last 24 h"
    assert element(browser, "next-right").text == "Next portion: allowed now."
    # The week: the one left portion, today.
    wait_text(browser, "week-note", lambda e: e.text.endswith(": 1 portion in the left bowl, 0 portions in "
                                                            "the right."), "the week")
    shot(browser, "7-capped-1100")


def outcome_cells_whole(browser, width):
    """Every outcome cell (and its header) inside the viewport and its text inside the cell, with
    neither the page nor the table scrolled sideways."""
    from selenium.webdriver.common.by import By

    wrap = browser.find_element(By.CSS_SELECTOR, ".table-wrap")
    assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", wrap)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    outcome_column = "{0} th:last-child, {0} td.outcome".format(part("presses"))
    cells = browser.find_elements(By.CSS_SELECTOR, outcome_column)
    for cell in cells:
        box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", cell)
        assert 0 <= box["left"] and box["right"] <= width and cell.is_displayed(), (cell.text, box)
        assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", cell)
    return [cell.text for cell in cells[1:]]


def test_at_1100_px_the_capped_outcome_is_whole(stack, browser):
    texts = outcome_cells_whole(browser, 1100)
    # Newest first, but two presses within one second (the ledger's time unit) in any order.
    assert sorted(texts) == ["Fed", "Not fed: cap reached\n" + REASON], texts


def test_at_360_px_the_capped_outcome_is_on_screen(stack, browser):

    viewport(browser, 360, 800)
    try:
        browser.refresh()
        wait_text(browser, "outcome", lambda e: e.get_attribute("data-outcome") == "last", "the last press")
        last = element(browser, "outcome").text
        assert last.endswith("): Not fed: cap reached.") or last.endswith("): Fed."), last
        texts = outcome_cells_whole(browser, 360)
        assert sorted(texts) == ["Fed", "Not fed: cap reached\n" + REASON], texts
        browser.execute_script("document.querySelector('.table-wrap').scrollIntoView()")
        shot(browser, "8-capped-360")
    finally:
        viewport(browser)

