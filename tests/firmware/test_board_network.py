"""board_network.py on the board twin (tests/board_twin/): Wi-Fi against the ESP32 driver's
behaviour (network_wlan.c: its own retries, a status() that keeps the last failure) and NTP against
micropython-lib's ntptime, on a virtual clock (hal_sim's), so a 20 s timeout costs nothing."""

import twin  # noqa: I001  (first: the twin's network and ntptime before the firmware imports them)

import hal_sim


def board(**ap):
    hal = hal_sim.HAL()
    board_twin = twin.use((1, 26), hal)
    board_twin.ap.update(ssid="home", password="secret")
    board_twin.ap.update(ap)
    import board_network

    return board_twin, hal, board_network


def test_joins_at_once_when_the_access_point_answers():
    board_twin, hal, board_network = board(join_ms=1500)
    lines = []
    assert board_network.wifi_connect(hal, "home", "secret", 20, lines.append)
    assert lines == [] and board_twin.wlan["connected"] and hal.watchdog_feeds >= 1


def test_a_router_coming_back_is_joined_by_the_drivers_own_retries():
    # Defect 7: the driver retries by itself and status() still shows the previous attempt's failure
    # while a new one runs. The old loop read that stale status 200 ms after its own retry and
    # disconnected again, so an access point that takes 2.5 s to associate was never joined.
    board_twin, hal, board_network = board(up_at_ms=7000, join_ms=2500)
    lines = []
    assert board_network.wifi_connect(hal, "home", "secret", 20, lines.append)
    assert lines == [] and hal.ticks_ms() >= 7000 + 2500
    assert hal.watchdog_feeds >= 9500 // board_network.WIFI_POLL_MS  # fed at every poll


def test_a_wrong_password_times_out_with_one_line_and_stops_the_driver():
    board_twin, hal, board_network = board()
    lines = []
    assert not board_network.wifi_connect(hal, "home", "wrong", 20, lines.append)
    assert lines == ["wifi: not joined within 20 s (status 202 wrong password)"]
    assert not board_twin.wlan["requested"]  # disconnect(): no retries in the background
    assert hal.ticks_ms() >= 20000


def test_the_status_keeps_the_last_failure_while_a_new_attempt_runs():
    # The twin itself, as network_wlan.c defines status(): the reason is cleared only by GOT_IP.
    import network

    board_twin, hal, board_network = board(join_ms=2000)
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.connect("home", "wrong")
    hal.sleep_ms(3000)
    assert wlan.status() == network.STAT_WRONG_PASSWORD
    wlan.connect("home", "secret")
    hal.sleep_ms(200)
    assert wlan.status() == network.STAT_WRONG_PASSWORD and not wlan.isconnected()  # stale
    hal.sleep_ms(2000)
    assert wlan.status() == network.STAT_GOT_IP


def test_a_short_ntp_reply_is_retried():
    # Defect 8: ntptime reads the reply with struct.unpack("!I", msg[40:44]): a short reply raised
    # ValueError, which board_network did not catch, and the boot stopped.
    board_twin, hal, board_network = board()
    board_twin.ntp_replies.extend([b"\x24" * 20, OSError(110)])
    lines = []
    assert board_network.time_sync(hal, lines.append)
    assert lines == [] and board_twin.rtc[0] == 2026 and not board_twin.ntp_replies


def test_ntp_failing_every_attempt_is_one_line():
    board_twin, hal, board_network = board()
    board_twin.ntp_replies.extend([b"", OSError(110), b"\x24" * 43])
    lines = []
    assert not board_network.time_sync(hal, lines.append)
    assert len(lines) == 1 and lines[0].startswith("ntp: no time after 3 attempts (ValueError")
    assert board_twin.rtc is None and hal.watchdog_feeds == 3
