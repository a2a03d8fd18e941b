"""Persistent bounded FIFO of outbound payloads (stored results), each with a seq, kept in flash.

put() is durable before it returns; ack() removes a message after the broker's PUBACK. When the
outbox is full, put() drops the oldest message and counts it in `dropped`, which is persisted.
next_seq never goes back: not across reboots, drops or acks.

Storage (smallfiles.py), in <dir>/outbox/:

    <seq in hex>  a waiting message: seq u32 LE | payload        kind PUT; 39 B for a 30 B result
    n             the newest acknowledged message, kept for its seq (the high-water mark)
    s             next_seq u32 | dropped u32, written when a message is dropped (kind STATE)

put() creates one file; ack() removes it, or renames it to `n` when it is the newest message
(rename replaces the old `n` atomically), so next_seq survives an empty outbox with one metadata
commit per ack. A result of up to 123 bytes stays inline in LittleFS's metadata (no erase).

A torn put (power cut before the file was closed) fails its CRC: when it is the newest message it
is removed and its seq reused, which is correct because put() never returned, so no one saw it.
Any other damaged file costs only that message, counted in corrupt_records, and its seq is never
reused. A drop writes `s` (through s.tmp and a rename) before removing the message, so a power
cut between them leaves one message too many, which the next load drops (and counts) again.
Data from the log-based outbox (outbox.log) is moved over once, at the first boot after the
upgrade (migrate.py).
"""

import os
import struct

from micropython import const
from smallfiles import SmallFiles

PUT = 1
STATE = 5
_FIRST_SEQ = const(1)
_MAX_SEQ = const(0xFFFFFFFF)
_NEWEST = "n"
_COUNTERS = "s"


class Outbox:
    def __init__(self, directory, capacity):
        if capacity < 1:
            raise ValueError("outbox capacity: expected >= 1")
        self.capacity = capacity
        self.next_seq = _FIRST_SEQ
        self.dropped = 0
        self.corrupt_records = 0  # damaged message files found at load
        self._seqs = []  # type: list  # oldest first, parallel to _payloads
        self._payloads = []  # type: list
        self._head = bytearray(8)
        self._files = SmallFiles(directory + "/outbox")
        try:
            os.stat(directory + "/outbox.log")
        except OSError:
            pass
        else:
            import migrate  # once, at the first boot after the upgrade from the log-based outbox

            migrate.outbox(directory + "/outbox.log", self._files)
        self._load()
        while len(self._seqs) > self.capacity:  # a smaller capacity, or a cut between `s` and the remove
            self._drop_oldest()

    @property
    def depth(self):
        return len(self._seqs)

    def _load(self):
        damaged = []
        for name in list(self._files.names()):
            if name == _COUNTERS:
                record = self._files.read(name)
                if record is not None and record[0] == STATE and len(record[1]) == 8:
                    next_seq, self.dropped = struct.unpack("<II", record[1])
                    self.next_seq = max(self.next_seq, next_seq)
                continue
            if name == _NEWEST:
                record = self._files.read(name)
                if record is not None and len(record[1]) >= 4:
                    self.next_seq = max(self.next_seq, struct.unpack_from("<I", record[1], 0)[0] + 1)
                continue
            try:
                seq = int(name, 16)
            except ValueError:
                continue  # s.tmp from a cut drop, or not ours
            record = self._files.read(name)
            if record is None or record[0] != PUT or len(record[1]) < 4:
                damaged.append(seq)
                continue
            self._insert(seq, bytes(record[1][4:]))
            self.next_seq = max(self.next_seq, seq + 1)
        for seq in damaged:
            if seq >= self.next_seq:  # a torn put: it never returned, so its seq is free again
                self._files.remove("%x" % seq)
            else:
                self.corrupt_records += 1
                self._files.remove("%x" % seq)
                self.next_seq = max(self.next_seq, seq + 1)
        self._files.remove(_COUNTERS + ".tmp")

    def _insert(self, seq, payload):
        """Add a loaded message in seq order (files come in no particular order)."""
        i = len(self._seqs)
        while i > 0 and self._seqs[i - 1] > seq:
            i -= 1
        self._seqs.insert(i, seq)
        self._payloads.insert(i, payload)

    def _remove(self, seq):
        for i in range(len(self._seqs)):
            if self._seqs[i] == seq:
                self._seqs.pop(i)
                self._payloads.pop(i)
                return True
        return False

    def put(self, payload):
        """Durably queue payload; return its seq. Drops (and counts) the oldest message when full."""
        if self.next_seq > _MAX_SEQ:
            raise OSError(28, "outbox: seq space exhausted")  # 4 billion results: not in this device's life
        seq = self.next_seq
        struct.pack_into("<I", self._head, 0, seq)
        self._files.write("%x" % seq, PUT, memoryview(self._head)[:4], payload)
        self._seqs.append(seq)
        self._payloads.append(bytes(payload))
        self.next_seq = seq + 1
        if len(self._seqs) > self.capacity:
            self._drop_oldest()
        return seq

    def _drop_oldest(self):
        self.dropped += 1
        struct.pack_into("<II", self._head, 0, self.next_seq, self.dropped)
        self._files.write(_COUNTERS + ".tmp", STATE, self._head)
        self._files.rename(_COUNTERS + ".tmp", _COUNTERS)
        self._files.remove("%x" % self._seqs[0])
        self._seqs.pop(0)
        self._payloads.pop(0)

    def peek(self):
        """(seq, payload) of the oldest message, or None."""
        if not self._seqs:
            return None
        return self._seqs[0], self._payloads[0]

    def at(self, index):
        """(seq, payload) of the index-th oldest message (0 = the oldest); IndexError past the end."""
        return self._seqs[index], self._payloads[index]

    def ack(self, seq):
        """Remove the message with this seq (after PUBACK); unknown or already removed seqs are a no-op."""
        if seq not in self._seqs:
            return
        if seq == self.next_seq - 1:
            self._files.rename("%x" % seq, _NEWEST)  # keeps next_seq on flash
        else:
            self._files.remove("%x" % seq)
        self._remove(seq)

    def items(self):
        """(seq, payload) of every waiting message, oldest first."""
        for i in range(len(self._seqs)):
            yield self._seqs[i], self._payloads[i]

    def close(self):
        pass  # every write is closed when it returns; kept so callers need not know
