"""When a command is too old, or too far in the future, to act on.

A command is expired when `now > issued_at + ttl` on arrival (docs/protocol.md).

A command stamped more than FUTURE_SKEW_S ahead of the device clock is rejected, not run:
NTP-synced clocks agree to well under a second and the board's RTC drifts only seconds a day
between syncs, so a bigger gap means one of the clocks is wrong (e.g. the device has not
synced yet and still thinks it is 1970/2000, or a sender put milliseconds in a seconds field).
Accepting it would stretch the command's life beyond its TTL by the size of the error, which
is exactly what the TTL exists to prevent (a stale press must not feed hours later).
"""

FUTURE_SKEW_S = 120
R_FUTURE = "issued_at: more than 120 s ahead of the device clock"
R_FORGOTTEN = "issued_at: no later than a dispense the device has forgotten (its clock went back)"


def expired(issued_at, ttl, now):
    return now > issued_at + ttl


def from_future(issued_at, now):
    return issued_at > now + FUTURE_SKEW_S


def forgotten(issued_at, forgotten_through):
    """It may be an id the journal forgot: begun at b <= forgotten_through for a command issued at
    most FUTURE_SKEW_S after b. With a clock that never goes back such a command is expired anyway
    (journal.py, A3); after a clock set far ahead and back, this is what keeps it from feeding twice."""
    return forgotten_through > 0 and issued_at <= forgotten_through + FUTURE_SKEW_S
