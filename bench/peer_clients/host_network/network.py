"""Stand-in for the board's network module, for a peer client on the unix port (and for
bench/module_heap.py, which imports the board's firmware): the host is always on the network, so
the station interface reports connected and connect() does nothing."""

STA_IF = 0
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_CONNECT_FAIL = 203


class WLAN:
    def __init__(self, interface=STA_IF):
        self.interface = interface

    def active(self, *state):
        return True

    def connect(self, *credentials):
        pass

    def disconnect(self):
        pass

    def isconnected(self):
        return True

    def status(self, *query):
        return STAT_GOT_IP

    def config(self, **options):
        pass
