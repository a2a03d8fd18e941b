"""Stand-in for the board's machine module, for a peer client on the unix port: mqtt_as takes its
default client id from unique_id() at import. bench/module_heap.py imports the board's HAL with
it (hal_board only imports machine; its pins are used at run time, which the bench never gets to)."""


def unique_id():
    return b"unixport"
