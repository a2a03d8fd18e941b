"""Device → cloud messages sent rarely (docs/protocol.md): status (the `offline` will, registered once
at boot; `online` after each connect) and telemetry (every telemetry_interval_s). The App imports
this module for each message through bootonly.call, so it is not resident between them; results,
sent for every command, are in messages.py.
"""

import json


def status_message(thing, status, at=None):
    """Status `online` (with at) after a connect; `offline` (no at) is the MQTT last will."""
    tail = "" if at is None else ', "at": %d' % at
    text = '{"v": 1, "type": "status", "thing": %s, "status": %s%s}'
    return (text % (json.dumps(thing), json.dumps(status), tail)).encode()


def telemetry_message(thing, uptime_s, heap_free, outbox_depth, dropped, at, link, cap, root="."):
    """link: connect_failures and last_error (text or None); cap: the feeding cap's counters (cap.py);
    root: the flash root, whose running set's release version is `firmware` (None: a set without
    one, the working tree flashed without RELEASE=)."""
    import otaboot  # released with this module (bootonly.call)

    version = otaboot.running_version(root)
    firmware = None if version == (0, 0, 0) else "%d.%d.%d" % version
    last_error = link.last_error
    if last_error is not None:
        # Cut to the longest text the cloud takes (docs/protocol.md, "Bounds"). A literal, not a
        # module-level name: that would grow the module's dict, which test_reports' heap check sees.
        last_error = last_error[:256]
    hour = cap.portions_hour
    day = cap.portions_day
    return (
        '{"v": 1, "type": "telemetry", "thing": %s, "uptime_s": %d, "heap_free": %d, "outbox_depth": %d, '
        '"dropped": %d, "connect_failures": %d, "last_error": %s, '
        '"portions_hour": {"left": %d, "right": %d}, "portions_day": {"left": %d, "right": %d}, '
        '"max_portions_per_hour": %d, "max_portions_per_day": %d, "firmware": %s, "at": %d}'
        % (json.dumps(thing), uptime_s, heap_free, outbox_depth, dropped, link.connect_failures,
           json.dumps(last_error), hour[0], hour[1], day[0], day[1], cap.per_hour, cap.per_day,
           json.dumps(firmware), at)
    ).encode()
