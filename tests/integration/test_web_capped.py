"""The page in headless Chromium on a device whose feeding cap is one portion: the second press is
`capped`, with the device's reason. Its own module: its device has another config than the one
test_web_browser.py keeps for its whole module."""

from rigs.web import Stack, chrome
from tests.integration.test_web_browser import shot, wait_text


def test_a_press_over_the_feeding_cap_shows_capped_with_the_reason(pki, tmp_path):
    from selenium.webdriver.common.by import By

    cap = {"max_portions_per_hour": 1, "max_portions_per_day": 1}
    with Stack(tmp_path, pki, feeding=cap) as capped_stack:
        driver = chrome()
        try:
            driver.get(capped_stack.web.url + "/")
            wait_text(driver, "device-status", lambda e: e.get_attribute("data-status") == "online", "online")
            shown = []
            for _ in range(2):
                before = driver.find_element(By.ID, "outcome").get_attribute("data-press-id")
                driver.find_element(By.ID, "feed-left").click()
                outcome = wait_text(
                    driver, "outcome",
                    lambda e, before=before: e.get_attribute("data-outcome") not in ("", "pending")
                    and e.get_attribute("data-press-id") != before,
                    "an outcome",
                )
                shown.append((outcome.get_attribute("data-outcome"), outcome.text))
            shot(driver, "7-capped")
        finally:
            driver.quit()
    assert shown[0][0] == "dispensed"
    assert shown[1][0] == "capped" and shown[1][1].startswith("Capped: cap: left bowl"), shown
