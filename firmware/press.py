"""A button press on the wire: its message and its id (docs/protocol.md, "Button press").

This one file is both the device's and the cloud's: the firmware imports it as `press`, the
button handler as `firmware.press` (the deployer packs it into the handler's zip), so the id a
feeder mints for its own button is the id the cloud puts on the bus for the same press.

Canonical serialization of a press, hashed with SHA-256 (UTF-8):

    button|<thing>|<event>|<at>|<seq>

`at` and `seq` are decimal integers without sign, leading zeros or exponent: an ESP32's float
is single precision (its repr of a Unix time is off by minutes), so times travel as integers.
The id is `press-` + the first 16 hex digits of the digest. tests/vectors/press_id.json pins it
on CPython and MicroPython alike.
"""

import binascii
import hashlib
import struct

EVENTS = ("SINGLE", "DOUBLE", "LONG")
ID_PREFIX = "press-"
ID_HEX_DIGITS = 16
# Stored form of a queued press (the flash queue assigns its seq): u8 event index | u32 at, LE.
STORED = "<BI"


def digest_id(parts):
    """`press-` + 16 hex digits of SHA-256 over the parts joined by `|`."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return ID_PREFIX + binascii.hexlify(digest[: ID_HEX_DIGITS // 2]).decode()


def press_id(thing, event, at, seq):
    """The id of one press of `thing`'s button; at (Unix seconds) and seq are ints."""
    return digest_id(("button", thing, event, "%d" % at, "%d" % seq))


def press_message(event, at, seq):
    """The JSON a button publishes on cat-feeder/<thing>/button (the topic names the thing)."""
    return ('{"v": 1, "event": "%s", "at": %d, "seq": %d}' % (event, at, seq)).encode()


def store(event, at):
    """The 5 bytes a press waits as in the flash queue (its seq is the queue's)."""
    return struct.pack(STORED, EVENTS.index(event), at)


def stored_event_at(stored):
    index, at = struct.unpack(STORED, stored)
    return EVENTS[index], at


def command(command_id, event, at):
    """The v1 command a feeder gives itself for its own press (local-first), as the cloud would send it."""
    return ('{"v": 1, "id": "%s", "event": "%s", "issued_at": %d}' % (command_id, event, at)).encode()
