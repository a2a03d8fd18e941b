"""Stand-in for the board's machine module, for a peer client on the unix port: mqtt_as takes its
default client id from unique_id() at import."""


def unique_id():
    return b"unixport"
