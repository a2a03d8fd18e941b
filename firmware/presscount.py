"""The button's press counter (`seq` of docs/protocol.md, "Button press"): persisted, never repeated.

A press id hashes (thing, event, at, seq), so a seq used twice within one second would give two
presses the same id and the second would be refused as a duplicate. The counter therefore never
goes back, across reboots and power cuts, without writing flash at every press: it reserves seqs
in blocks. The log (records.py framing, so a torn write is detected) holds the reservation's end;
before handing out a seq at or beyond it, the counter durably moves the end on by `block`. After a
reboot it starts from the last durable end, skipping whatever was reserved and not used (at most
block-1 numbers per boot), never reusing one.

    counter = PressCounter("data/presses.log")   # loads (and repairs) the log
    seq = counter.take()                          # durable before it returns
"""

import struct

import records

RESERVED = 1  # record kind: body = u32 end of the reservation (exclusive)
DEFAULT_BLOCK = 16
MAX_SEQ = 0xFFFFFFFF


class PressCounter:
    def __init__(self, path, block=DEFAULT_BLOCK):
        self.block = block
        self.next_seq = 0
        self._reserved_end = 0
        self._log = records.Log(path)
        self._log.load(self._on_record)
        self.next_seq = self._reserved_end

    def _on_record(self, kind, body):
        if kind == RESERVED and len(body) == 4:
            end = struct.unpack("<I", body)[0]
            if end > self._reserved_end:
                self._reserved_end = end

    def take(self):
        """The next seq; when it needs a new reservation, that is on flash before this returns (OSError
        if it cannot be written: then no seq is handed out)."""
        seq = self.next_seq
        if seq >= self._reserved_end:
            end = min(seq + self.block, MAX_SEQ)
            self._log.append(RESERVED, struct.pack("<I", end))
            self._reserved_end = end
            self._log.compact_if_it_pays(lambda: records.frame_size(4), self._emit_end)
        self.next_seq = seq + 1
        return seq

    def _emit_end(self, emit):
        emit(RESERVED, struct.pack("<I", self._reserved_end))
        return True

    def close(self):
        self._log.close()
