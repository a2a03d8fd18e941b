"""Dedup journal: which command ids this device has started dispensing, kept in flash.

Persist before act: begin(id) is durable (written and flushed, see records.py) before the feeder
moves a servo, and finish(id) after the result is queued. A power cut in between leaves the id
begun but unfinished; unfinished() reports it at the next boot so the feeder sends `interrupted`
and never dispenses it again, and seen(id) stays True for it.

Only dispenses are journaled: a command that is refused (expired, capped, rejected) moves
nothing, so its redelivery can be decided afresh. Each entry keeps the device time the dispense
began, which is also what the feeding cap counts (cap.py, tally()).

Records (records.py frames; `kind` carries the record type and the bowls mask in bits 0-1):

    BEGIN  0x10|bowls : slot u8 | began_at u32 LE | id (ASCII, 1-64)       31 bytes for a 20-char id
    FINISH 0x20       : slot u8                                              7 bytes
    DONE   0x30|bowls : as BEGIN, already finished (written by compaction only)

A slot (0-255) is the short key FINISH uses instead of repeating the id. Slots are reused only
after the id was forgotten, so when a later BEGIN in the file names a taken slot, the earlier
id was forgotten and is dropped while loading.

Memory is fixed at load: per slot, the crc32 of the id, began_at, its length and a state byte
(2.5 KB for all 256), nothing per id beyond that. seen() compares crc32s, so an id whose crc32
equals a remembered one's is taken for a duplicate and refused (odds about entries / 2^32 per
command): the error can only refuse a feed, never repeat one. The ids themselves are read back
from the file when needed (unfinished ids at load, compaction).

Why forgetting is safe. Assumptions:
  A1 the feeder refuses a command as expired when now > issued_at + ttl, with ttl <= max_ttl_s,
     and rejects one with issued_at > now + FUTURE_SKEW_S (expiry.py), both before begin();
  A2 horizon_s >= max_ttl_s + FUTURE_SKEW_S (config.py enforces it: the horizon is one day and
     max_ttl_s is at most a day less the skew allowance);
  A3 the clock never goes back past a time given to prune() or begin(): they are only called
     with a sane, synced clock (after NTP on the board), which does not step backwards.
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

Flash stays bounded because finish() and prune() compact the file (records.Log.compact_if_it_pays)
to one DONE or BEGIN record per remembered id.
"""

import binascii
import struct
from array import array

import records

BEGIN = 0x10
FINISH = 0x20
DONE = 0x30
TYPE_MASK = 0xF0
BOWLS_MASK = 0x03
SLOTS = 256
MAX_ID_LEN = 64
MAX_TIME = 0xFFFFFFFF
ENOSPC = 28
HEAD = "<BI"  # slot, began_at
HEAD_LEN = 5
# Per-slot state bits; the low two are the bowls mask.
USED = 0x80
FINISHED = 0x40
EMITTED = 0x20  # during compaction: this slot's record has been copied


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
        self._hashes = bytearray(4 * SLOTS)  # crc32 of each slot's id, little-endian
        self._began = array("I", bytes(4 * SLOTS))
        self._state = bytearray(SLOTS)
        self._id_len = bytearray(SLOTS)  # for the compaction estimate
        self._next_slot = 0  # handed out round-robin, so a freed slot rests before reuse
        self._key = bytearray(4)
        self._head = bytearray(HEAD_LEN)
        self._pending = []  # type: list  # while loading: (id, slot) of each BEGIN not yet finished, in file order
        self._log = records.Log(directory + "/journal.log")
        self._log.load(self._replay)
        self._unfinished = self._pending  # what was still pending at the end of the file
        self.corrupt_records = self._log.skipped
        self._maybe_compact()

    # -- loading ---------------------------------------------------------------------------------

    def _replay(self, kind, body):
        if len(body) == 0:
            return
        record_type = kind & TYPE_MASK
        slot = body[0]
        if record_type == FINISH:
            self._state[slot] |= FINISHED if self._state[slot] & USED else 0
            self._settle(slot)
            return
        if record_type not in (BEGIN, DONE) or len(body) <= HEAD_LEN:
            return  # unknown to this firmware: ignored rather than refusing to boot
        if self._state[slot] & USED:
            self._forget(slot)  # the slot was reused, so its earlier id had been pruned
            self._settle(slot)
        began_at = struct.unpack_from(HEAD, body, 0)[1]
        finished = FINISHED if record_type == DONE else 0
        id_bytes = body[HEAD_LEN:]
        state = (kind & BOWLS_MASK) | finished
        self._remember(slot, binascii.crc32(id_bytes), len(id_bytes), began_at, state)
        if not finished:
            self._pending.append((bytes(id_bytes).decode(), slot))
        self._next_slot = (slot + 1) % SLOTS

    def _settle(self, slot):
        for i in range(len(self._pending)):
            if self._pending[i][1] == slot:
                self._pending.pop(i)
                return

    # -- slots -----------------------------------------------------------------------------------

    def _remember(self, slot, crc, id_len, began_at, state):
        struct.pack_into("<I", self._hashes, 4 * slot, crc)
        self._id_len[slot] = id_len
        self._began[slot] = began_at
        self._state[slot] = USED | state
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
            if at & 3 == 0 and self._state[at >> 2] & USED:
                return at >> 2
            at = self._hashes.find(self._key, at + 1)
        return -1

    def _free_slot(self):
        slot = self._next_slot
        while self._state[slot] & USED:
            slot = (slot + 1) % SLOTS  # terminates: fewer than max_entries <= SLOTS are used
        self._next_slot = (slot + 1) % SLOTS
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
        if type(now) is not int or not 0 <= now <= MAX_TIME:
            raise ValueError("journal: now must be an int of Unix seconds")
        if self._find(encoded) >= 0:
            raise ValueError("journal: id already begun")
        if self.entries >= self.max_entries:
            self._forget_before(now - self.horizon_s)
        if self.entries >= self.max_entries:
            raise JournalFull(ENOSPC, "journal full: %d ids inside the horizon" % self.max_entries)
        slot = self._free_slot()
        struct.pack_into(HEAD, self._head, 0, slot, now)
        bowls = bowls_mask & BOWLS_MASK
        self._log.append(BEGIN | bowls, self._head, encoded)  # durable first, then remembered
        self._remember(slot, binascii.crc32(encoded), len(encoded), now, bowls)

    def finish(self, command_id):
        """Durably mark command_id completed; a no-op for an unknown or already finished id."""
        slot = self._find(command_id.encode())
        if slot < 0 or self._state[slot] & FINISHED:
            return
        self._head[0] = slot
        self._log.append(FINISH, memoryview(self._head)[:1])
        self._state[slot] |= FINISHED
        self._maybe_compact()

    def unfinished(self):
        """[(command_id, bowls_mask)] begun before this boot and not finished since."""
        result = []
        for command_id, slot in self._unfinished:
            if self._state[slot] & (USED | FINISHED) == USED:
                result.append((command_id, self._state[slot] & BOWLS_MASK))
        return result

    def prune(self, now):
        """Forget finished ids begun before now - horizon_s (proof above); compact if it pays."""
        self._forget_before(now - self.horizon_s)
        self._maybe_compact()

    def _forget_before(self, cutoff):
        for slot in range(SLOTS):
            if self._state[slot] & FINISHED and self._began[slot] < cutoff:
                self._forget(slot)

    def tally(self, since_short, since_long, counts):
        """Dispenses per bowl begun after each time: counts[0], [1] = left, right after since_short;
        counts[2], [3] after since_long. One pass, no allocation (the feeding cap asks per command)."""
        for i in range(4):
            counts[i] = 0
        began = self._began
        state = self._state
        for slot in range(SLOTS):
            bowls = state[slot]
            if not bowls & USED:
                continue
            at = began[slot]
            if at > since_long:
                counts[2] += bowls & 1
                counts[3] += (bowls >> 1) & 1
                if at > since_short:
                    counts[0] += bowls & 1
                    counts[1] += (bowls >> 1) & 1

    # -- compaction ------------------------------------------------------------------------------

    def _maybe_compact(self):
        self._log.compact_if_it_pays(self._live_bytes, self._copy_live)

    def _live_bytes(self):
        total = 0
        for slot in range(SLOTS):
            if self._state[slot] & USED:
                total += records.frame_size(HEAD_LEN + self._id_len[slot])
        return total

    def _copy_live(self, emit):
        """Copy each remembered id's record from the current file, as DONE or BEGIN by its state now."""
        copied = [0]

        def copy(kind, body):
            record_type = kind & TYPE_MASK
            if record_type == FINISH or len(body) <= HEAD_LEN:
                return
            slot = body[0]
            state = self._state[slot]
            if state & (USED | EMITTED) != USED:
                return
            if struct.unpack_from("<I", self._hashes, 4 * slot)[0] != binascii.crc32(body[HEAD_LEN:]):
                return  # an earlier, forgotten occupant of the slot
            emit((DONE if state & FINISHED else BEGIN) | (state & BOWLS_MASK), body)
            self._state[slot] = state | EMITTED
            copied[0] += 1

        self._log.scan(copy)
        for slot in range(SLOTS):
            self._state[slot] &= ~EMITTED
        return copied[0] == self.entries  # else keep the old file rather than lose an id

    def close(self):
        self._log.close()
