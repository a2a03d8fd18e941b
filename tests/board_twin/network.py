"""Stand-in for the ESP32 port's `network` station interface (the board twin: board_twin.py), as
ports/esp32/network_wlan.c defines it (status() and the event handler are the same 1.24-master).

The driver state is the C file's statics: wifi_sta_connected, wifi_sta_disconn_reason,
wifi_sta_connect_requested. An association attempt ends after board_twin.ap's join_ms (success)
or fail_ms (failure) on board_twin.clock; its outcome is an event, applied when the firmware next
asks. What the source makes of those events:
- a failed attempt stores its reason (NO_AP_FOUND, AUTH_FAIL...) and, while connect() was
  requested, the event handler calls esp_wifi_connect() again by itself (reconnects unlimited);
- the stored reason is cleared only by GOT_IP; connect() does not clear it, so status() keeps
  reporting the previous attempt's failure while a new attempt runs;
- disconnect() clears the request, and its event stores WIFI_REASON_ASSOC_LEAVE: status() IDLE.
"""

import board_twin

STA_IF = 0
AP_IF = 1
# ports/esp32/modnetwork.h and modnetwork_globals.h: the STAT_ values are the driver's reasons.
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202  # WIFI_REASON_AUTH_FAIL
STAT_CONNECT_FAIL = 203  # WIFI_REASON_ASSOC_FAIL
STAT_HANDSHAKE_TIMEOUT = 204
_REASON_ASSOC_LEAVE = 8


def _advance():
    """Apply the driver events due by now: each attempt's end, and the driver's own retry."""
    state = board_twin.wlan
    while state["attempt_ends"] is not None and state["attempt_ends"] <= board_twin.now_ms():
        ended = state["attempt_ends"]
        state["attempt_ends"] = None
        if state["outcome"] == STAT_GOT_IP:
            state["connected"] = True  # IP_EVENT_STA_GOT_IP
            state["reason"] = 0
            return
        state["connected"] = False  # WIFI_EVENT_STA_DISCONNECTED
        state["reason"] = state["outcome"]
        if state["requested"]:
            _attempt(ended)  # the event handler's esp_wifi_connect()


def _attempt(start):
    """An association starting at start: joins if the access point is in range by then and the
    credentials match, after join_ms; fails otherwise, after fail_ms."""
    state = board_twin.wlan
    ap = board_twin.ap
    if ap["ssid"] is not None and state["ssid"] != ap["ssid"] or start < ap["up_at_ms"]:
        state["outcome"] = STAT_NO_AP_FOUND
    elif ap["ssid"] is not None and state["password"] != ap["password"]:
        state["outcome"] = STAT_WRONG_PASSWORD
    else:
        state["outcome"] = STAT_GOT_IP
    state["attempt_ends"] = start + (ap["join_ms"] if state["outcome"] == STAT_GOT_IP else ap["fail_ms"])


class WLAN:
    def __init__(self, interface=STA_IF):
        self.interface = interface

    def active(self, *state):
        wlan = board_twin.wlan
        if state:
            wlan["active"] = bool(state[0])
            if not state[0]:
                wlan["connected"] = False
                wlan["attempt_ends"] = None
            return None
        return wlan["active"]

    def connect(self, ssid=None, key=None):
        wlan = board_twin.wlan
        if not wlan["active"]:
            raise OSError("Wifi Not Started")  # esp_exceptions(ESP_ERR_WIFI_NOT_STARTED)
        _advance()
        wlan["ssid"], wlan["password"] = ssid, key
        wlan["requested"] = True  # network_wlan_connect: reconnects = 0, esp_wifi_connect()
        if not wlan["connected"]:
            _attempt(board_twin.now_ms())

    def disconnect(self):
        wlan = board_twin.wlan
        _advance()
        wlan["requested"] = False
        if wlan["connected"] or wlan["attempt_ends"] is not None:
            wlan["connected"] = False
            wlan["attempt_ends"] = None
            wlan["reason"] = _REASON_ASSOC_LEAVE

    def isconnected(self):
        _advance()
        return board_twin.wlan["connected"]

    def status(self, *query):
        # network_wlan_status with no argument, STA interface.
        _advance()
        wlan = board_twin.wlan
        reason = wlan["reason"]
        if wlan["connected"]:
            return STAT_GOT_IP
        if reason in (STAT_NO_AP_FOUND, STAT_WRONG_PASSWORD):
            return reason
        if reason == _REASON_ASSOC_LEAVE:
            return STAT_IDLE
        if wlan["requested"]:
            return STAT_CONNECTING
        return STAT_IDLE if reason == 0 else reason

    def config(self, *name, **options):
        return None

    def ifconfig(self, *settings):
        return ("192.168.4.2", "255.255.255.0", "192.168.4.1", "192.168.4.1")
