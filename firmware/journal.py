"""Dedup journal: which command ids this device has started dispensing, kept in flash.

Persist before act: begin(id) is durable (written and closed, see smallfiles.py) before the feeder
moves a servo, and finish(id) after the result is queued. A power cut in between leaves the id
begun but unfinished; unfinished() reports it at the next boot so the feeder sends `interrupted`
and never dispenses it again, and seen(id) stays True for it.

Only dispenses are journaled: a command that is refused (expired, capped, rejected) moves
nothing, so its redelivery can be decided afresh. Each entry keeps the device time the dispense
began, which is also what the feeding cap counts (cap.py, tally()).

Storage (smallfiles.py): one small file per slot (0-255), named by the slot in hex, in
<dir>/journal/<first hex digit>/ (16 directories of 16 slots: a small LittleFS directory is
compacted, and its block erased, less often), holding one record, inline in LittleFS's metadata:

    BEGIN 0x10|bowls : began_at u32 LE | id (ASCII, 1-64)       31 bytes for a 22-character id
    DONE  0x30|bowls : began_at u32 LE | crc32 of the id         13 bytes

begin() writes BEGIN to the slot's file and finish() replaces it with DONE, each atomically
(smallfiles.write), so a power cut leaves either record whole: a cut begin() leaves the slot's
earlier record (or an empty file) and never returned, so nothing moved; a cut finish() leaves
BEGIN, reported `interrupted`. Forgetting an id writes nothing: its DONE file stays until begin()
reuses the slot (the lowest free one), and if the device reboots first it is loaded again and
forgotten again by the next prune (a command that old is refused as expired anyway, see below).
So a dispense costs two metadata commits and no erase. A damaged file is counted in
corrupt_records and removed (its id is forgotten early). Loading at boot is restore.py's (released
afterwards), through remember(); data from the log-based journal (journal.log) is moved over
once, at the first boot after the upgrade (migrate.py).

Memory is fixed at load: per slot, the crc32 of the id, began_at and a state byte (2.3 KB for all
256), nothing per id beyond that. seen() compares crc32s, so an id whose crc32 equals a remembered
one's is taken for a duplicate and refused (odds about entries / 2^32 per command): the error can
only refuse a feed, never repeat one. The ids themselves are read back from flash only for
unfinished entries at load.

Why forgetting is safe. Assumptions:
  A1 the feeder refuses a command as expired when now > issued_at + ttl, with ttl <= max_ttl_s,
     and rejects one with issued_at > now + FUTURE_SKEW_S (expiry.py), both before begin();
  A2 horizon_s >= max_ttl_s + FUTURE_SKEW_S (config.py enforces it: the horizon is one day and
     max_ttl_s is at most a day less the skew allowance);
  A3 the clock never goes back past a time given to prune() or begin(): they are only called
     with a sane, synced clock (after NTP on the board), which does not step backwards.
     A clock that does (set far ahead, the journal pruned, set right again) is met by the feeder:
     it refuses a command issued no later than FUTURE_SKEW_S after the latest begin this journal
     forgot (`forgotten_through`), which the reasoning below shows was expired anyway under A3.
An entry begun at b was begun for a command with issued_at <= b + FUTURE_SKEW_S (A1). Once
b < now - horizon_s, any redelivery has issued_at + ttl <= b + FUTURE_SKEW_S + max_ttl_s <
now - horizon_s + FUTURE_SKEW_S + max_ttl_s <= now (A2): it is refused as expired, now and at
any later time (A3), so forgetting it cannot cause a second dispense. Unfinished ids are never
forgotten: their `interrupted` report must not be lost.

Why the journal cannot fill. max_entries (at most 256 slots) bounds how many ids are remembered.
The feeding cap (cap.py) lets each bowl start at most max_portions_per_day dispenses in any
window of one day, and each entry feeds at least one bowl, so entries begun within the horizon
(one day) number at most 2 * max_portions_per_day; config.py requires that to be <= max_entries.
begin() first forgets every finished entry older than the horizon (RAM only), so at most those
entries remain and there is always a free slot. A full journal would mean that proof was
broken: begin() then raises JournalFull (an OSError, ENOSPC) and the feeder refuses the command
with nothing moved rather than forget an id that can still be redelivered.

Flash stays bounded: one small file per slot, at most SLOTS of them.
"""

import binascii
import struct
from array import array

import bootonly
from micropython import const
from smallfiles import SmallFiles

BEGIN = const(0x10)
DONE = const(0x30)
TYPE_MASK = const(0xF0)
BOWLS_MASK = const(0x03)
SLOTS = 256
MAX_ID_LEN = 64
_MAX_TIME = const(0xFFFFFFFF)
_ENOSPC = const(28)
HEAD_LEN = const(4)  # began_at
# Per-slot state bits; the low two are the bowls mask.
_USED = const(0x80)
FINISHED = const(0x40)


class JournalFull(OSError):
    """begin() refused: max_entries ids inside the horizon. The feeding cap makes this impossible
    (see above); if it happens anyway, refusing is right: forgetting one could feed twice."""


class Journal:
    def __init__(self, directory, horizon_s, max_entries=256):
        if not 1 <= max_entries <= SLOTS:
            raise ValueError("max_entries: expected 1-%d" % SLOTS)
        self.horizon_s = horizon_s
        self.max_entries = max_entries
        self.entries = 0  # ids remembered
        self.corrupt_records = 0  # damaged files found at load
        self.forgotten_through = 0  # the latest began_at of an id forgotten (this boot), see A3
        self._hashes = bytearray(4 * SLOTS)  # crc32 of each slot's id, little-endian
        self._began = array("I", bytes(4 * SLOTS))
        self._state = bytearray(SLOTS)
        self._key = bytearray(4)
        self._head = bytearray(HEAD_LEN)
        self.files = SmallFiles(directory + "/journal", fanout=True)
        # Read back through remember(); restore.py returns [(began_at, slot, id)] of the unfinished
        # entries, then leaves the heap.
        self._unfinished = bootonly.call("restore", "load_journal", self, directory)

    # -- slots -----------------------------------------------------------------------------------

    def remember(self, slot, crc, began_at, state):
        """slot holds the id with this crc32, begun at began_at; state: its bowls mask, | FINISHED
        once finished. Called by begin(), and at boot by restore.py for each file read back."""
        struct.pack_into("<I", self._hashes, 4 * slot, crc)
        self._began[slot] = began_at
        self._state[slot] = _USED | state
        self.entries += 1

    def _forget(self, slot):
        struct.pack_into("<I", self._hashes, 4 * slot, 0)
        self._state[slot] = 0
        self.entries -= 1

    def _find(self, encoded):
        """The slot remembering an id with this encoding's crc32, or -1."""
        struct.pack_into("<I", self._key, 0, binascii.crc32(encoded))
        at = self._hashes.find(self._key)
        while at >= 0:
            if at & 3 == 0 and self._state[at >> 2] & _USED:
                return at >> 2
            at = self._hashes.find(self._key, at + 1)
        return -1

    def _free_slot(self):
        """The lowest free slot: the files in use stay as few as the ids a day holds (fewer bytes in
        LittleFS's metadata to copy when it compacts: bench/storage_mpy.py)."""
        slot = 0
        while self._state[slot] & _USED:
            slot += 1  # stops below SLOTS: fewer than max_entries <= SLOTS are used
        return slot

    # -- the contract ----------------------------------------------------------------------------

    def seen(self, command_id):
        """True when command_id was begun (finished or not) and not yet pruned."""
        return self._find(command_id.encode()) >= 0

    def begin(self, command_id, now, bowls_mask):
        """Durably record that command_id starts dispensing at now (Unix seconds) before any servo
        moves. Raises JournalFull, OSError, ValueError."""
        encoded = command_id.encode()
        if not 1 <= len(encoded) <= MAX_ID_LEN:
            raise ValueError("journal: id must be 1-%d bytes" % MAX_ID_LEN)
        if type(now) is not int or not 0 <= now <= _MAX_TIME:
            raise ValueError("journal: now must be an int of Unix seconds")
        if self._find(encoded) >= 0:
            raise ValueError("journal: id already begun")
        if self.entries >= self.max_entries:
            self._forget_before(now - self.horizon_s)
        if self.entries >= self.max_entries:
            raise JournalFull(_ENOSPC, "journal full: %d ids inside the horizon" % self.max_entries)
        slot = self._free_slot()
        struct.pack_into("<I", self._head, 0, now)
        bowls = bowls_mask & BOWLS_MASK
        # Durable, then remembered. The slot's file is free: at most a forgotten id's DONE record,
        # which a cut may lose as safely as forgetting it.
        self.files.write("%02x" % slot, BEGIN | bowls, self._head, encoded, free=True)
        self.remember(slot, binascii.crc32(encoded), now, bowls)

    def finish(self, command_id):
        """Durably mark command_id completed; a no-op for an unknown or already finished id."""
        slot = self._find(command_id.encode())
        if slot < 0 or self._state[slot] & FINISHED:
            return
        struct.pack_into("<I", self._head, 0, self._began[slot])
        hashes = memoryview(self._hashes)
        self.files.write("%02x" % slot, DONE | (self._state[slot] & BOWLS_MASK), self._head,
                          hashes[4 * slot : 4 * slot + 4])
        self._state[slot] |= FINISHED

    def unfinished(self):
        """[(command_id, bowls_mask)] begun before this boot and not finished since, oldest first."""
        result = []
        for _began_at, slot, command_id in self._unfinished:
            if self._state[slot] & (_USED | FINISHED) == _USED:
                result.append((command_id, self._state[slot] & BOWLS_MASK))
        return result

    def prune(self, now):
        """Forget finished ids begun before now - horizon_s (proof above)."""
        self._forget_before(now - self.horizon_s)

    def _forget_before(self, cutoff):
        for slot in range(SLOTS):
            began = self._began[slot]
            if self._state[slot] & FINISHED and began < cutoff:
                if began > self.forgotten_through:
                    self.forgotten_through = began
                self._forget(slot)  # its DONE file stays until the slot is reused (see above)

    def tally(self, since_short, since_long, counts):
        """Dispenses per bowl begun after each time: counts[0], [1] = left, right after since_short;
        counts[2], [3] after since_long. One pass, no allocation (the feeding cap asks per command)."""
        for i in range(4):
            counts[i] = 0
        began = self._began
        state = self._state
        for slot in range(SLOTS):
            bowls = state[slot]
            if not bowls & _USED:
                continue
            at = began[slot]
            if at > since_long:
                counts[2] += bowls & 1
                counts[3] += (bowls >> 1) & 1
                if at > since_short:
                    counts[0] += bowls & 1
                    counts[1] += (bowls >> 1) & 1
