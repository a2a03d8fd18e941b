"""Stand-in for the ESP32 port's network module (bench/module_heap.py only): the constants hal_board reads."""

STA_IF = 0
STAT_WRONG_PASSWORD = 202
STAT_NO_AP_FOUND = 201
STAT_CONNECT_FAIL = 203


class WLAN:
    pass
