"""Stand-in for the board's network module, for a peer client on the unix port: the host is always
on the network, so the station interface reports connected and connect() does nothing."""

STA_IF = 0
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010


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
