"""Persistent bounded FIFO of outbound payloads (stored results), each with a seq, kept in flash.

put() is durable before it returns; ack() removes a message after the broker's PUBACK. When the
outbox is full, put() drops the oldest message and counts it in `dropped`, which is persisted.
next_seq never goes back: not across reboots, drops, acks or compaction.

Records (records.py frames):

    PUT   1 : seq low byte | payload       seq: the first one >= next_seq with that low byte
    ITEM  2 : seq u32 LE | payload         a message rewritten by compaction, seq explicit
    ACK   3 : seq u32 LE                   removed after PUBACK
    DROP  4 : seq u32 LE                   removed because full; dropped += 1
    STATE 5 : next_seq u32 | dropped u32   written by compaction after the ITEMs

put() and drops are flushed before put() returns; an ACK is written without its own flush and
becomes durable with the next put (or compaction, or close): on LittleFS every flush of an
appended file copies the file's last block (bench/storage_mpy.py measures it), and an ACK lost
to a power cut only means its message is sent again with the same seq, which the protocol
allows (at least once; the cloud detects the repeat by seq). journal.finish() is flushed before
a result can be acknowledged, so a lost ACK never makes boot recovery report `interrupted`.

A dispensed result (~30 bytes) costs 37 bytes to put and 10 to ack. The low byte keeps seqs right
when a corrupt PUT in the middle is skipped (up to 255 in a row). A torn last PUT was never
acknowledged to the caller, so reusing its seq is correct: no one ever saw it. A PUT is written
before the DROP it causes, so a power cut between them leaves one message too many, which the
next load drops (and counts) again.
"""

import struct

import records

PUT = 1
ITEM = 2
ACK = 3
DROP = 4
STATE = 5
SEQ = "<I"
STATE_LAYOUT = "<II"
SEQ_LEN = 4
FIRST_SEQ = 1
MAX_SEQ = 0xFFFFFFFF


class Outbox:
    def __init__(self, directory, capacity):
        if capacity < 1:
            raise ValueError("outbox capacity: expected >= 1")
        self.capacity = capacity
        self.next_seq = FIRST_SEQ
        self.dropped = 0
        self._seqs = []  # type: list  # oldest first, parallel to _payloads
        self._payloads = []  # type: list
        self._body = bytearray(2 * SEQ_LEN)
        self._log = records.Log(directory + "/outbox.log")
        self._log.load(self._replay)
        while len(self._seqs) > self.capacity:  # a smaller capacity, or a cut between PUT and DROP
            self._drop_oldest()
        self._maybe_compact()

    @property
    def depth(self):
        return len(self._seqs)

    @property
    def corrupt_records(self):
        return self._log.skipped

    def _replay(self, kind, body):
        if kind == PUT and len(body) > 0:
            self._add(self.next_seq + ((body[0] - self.next_seq) & 0xFF), bytes(body[1:]))
        elif kind == ITEM and len(body) >= SEQ_LEN:
            self._add(struct.unpack_from(SEQ, body, 0)[0], bytes(body[SEQ_LEN:]))
        elif kind in (ACK, DROP) and len(body) == SEQ_LEN:
            if self._remove(struct.unpack_from(SEQ, body, 0)[0]) and kind == DROP:
                self.dropped += 1
        elif kind == STATE and len(body) == 2 * SEQ_LEN:
            next_seq, self.dropped = struct.unpack_from(STATE_LAYOUT, body, 0)
            self.next_seq = max(self.next_seq, next_seq)

    def _add(self, seq, payload):
        self._seqs.append(seq)
        self._payloads.append(payload)
        self.next_seq = max(self.next_seq, seq + 1)

    def _remove(self, seq):
        for i in range(len(self._seqs)):
            if self._seqs[i] == seq:
                self._seqs.pop(i)
                self._payloads.pop(i)
                return True
        return False

    def put(self, payload):
        """Durably queue payload; return its seq. Drops (and counts) the oldest message when full."""
        if self.next_seq > MAX_SEQ:
            raise OSError(28, "outbox: seq space exhausted")  # 4 billion results: not in this device's life
        seq = self.next_seq
        self._body[0] = seq & 0xFF
        self._log.append(PUT, memoryview(self._body)[:1], payload)
        self._add(seq, bytes(payload))
        if len(self._seqs) > self.capacity:
            self._drop_oldest()
            self._maybe_compact()  # only drops make dead records here; acks compact in ack()
        return seq

    def _drop_oldest(self):
        self._write_seq(DROP, self._seqs[0])
        self._seqs.pop(0)
        self._payloads.pop(0)
        self.dropped += 1

    def _write_seq(self, kind, seq):
        struct.pack_into(SEQ, self._body, 0, seq)
        # An ACK lost to a power cut only re-sends its message (same seq): it rides on the next flush.
        self._log.append(kind, memoryview(self._body)[:SEQ_LEN], durable=kind != ACK)

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
        self._write_seq(ACK, seq)
        self._remove(seq)
        self._maybe_compact()

    def items(self):
        """(seq, payload) of every waiting message, oldest first."""
        for i in range(len(self._seqs)):
            yield self._seqs[i], self._payloads[i]

    def _live_bytes(self):
        total = records.frame_size(2 * SEQ_LEN)
        for payload in self._payloads:
            total += records.frame_size(SEQ_LEN + len(payload))
        return total

    def _maybe_compact(self):
        self._log.compact_if_it_pays(self._live_bytes, self._emit_live)

    def _emit_live(self, emit):
        for i in range(len(self._seqs)):
            struct.pack_into(SEQ, self._body, 0, self._seqs[i])
            emit(ITEM, memoryview(self._body)[:SEQ_LEN], self._payloads[i])
        struct.pack_into(STATE_LAYOUT, self._body, 0, self.next_seq, self.dropped)
        emit(STATE, self._body)
        return True

    def close(self):
        self._log.close()


class InFlight:
    """An outbox's messages sent and not yet acknowledged, oldest first: the outbox's oldest messages,
    as (packet id, seq) pairs. A message leaves the outbox only when its own PUBACK arrives."""

    def __init__(self, outbox):
        self.outbox = outbox
        self.pids = []  # type: list
        self.seqs = []  # type: list

    def __len__(self):
        return len(self.pids)

    def sent(self, pid, seq):
        self.pids.append(pid)
        self.seqs.append(seq)

    def acked(self, pid):
        """Remove the message whose PUBACK this is from the outbox; False when pid is not one of ours."""
        pids = self.pids
        for i in range(len(pids)):
            if pids[i] == pid:
                self.outbox.ack(self.seqs[i])
                pids.pop(i)
                self.seqs.pop(i)
                return True
        return False

    def clear(self):
        """The link dropped: nothing is in flight; every unacknowledged message goes out again."""
        del self.pids[:]
        del self.seqs[:]
