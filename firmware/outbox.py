"""Persistent bounded FIFO of outbound payloads (stored results), each with a seq, kept in flash.

put() is durable before it returns; ack() removes a message after the broker's PUBACK. When the
outbox is full, put() drops the oldest message and counts it in `dropped`, which is persisted.
next_seq never goes back: not across reboots, drops or acks.

Storage (smallfiles.py): a pool of small files in <dir>/outbox/, named 0, 1, 2 ..., each holding
one record, rewritten atomically in place (one metadata commit on LittleFS, no erase):

    PUT   1 : seq u32 LE | payload       a waiting message        39 bytes for a 30-byte result
    DONE  2 : seq u32 LE                 a free file: its message was acknowledged
    STATE 5 : next_seq u32 | dropped u32 | kept_from u32     in the file `s` or `t`, written by a
              drop: the messages below kept_from were dropped (always the oldest), their files are
              free. Each drop writes the older of the two; the one with more drops is the state.

put() writes its message into the free file holding the oldest seq, or into a new file when
fewer than two are free, and ack() rewrites the message's file as DONE. So a dispensed command
costs two commits, the pool holds at most one file more than the most messages ever waiting at
once, and the free file holding the newest seq is never the one rewritten, so next_seq (one
above the highest seq in any file) survives an empty outbox.

A power cut during a write leaves the file's old record whole (smallfiles.py): a cut put() was
never acknowledged to its caller, so its seq is free again; a cut ack() sends the message again
with its seq, which the protocol allows; a drop is the one write of `s` or `t`, before the new
message, and a cut leaves the other, the state before the drop. The files put() and a drop write
hold nothing that must survive, so they are written as free (smallfiles.write: faster on the
unix port, and a cut may leave them missing). A damaged file costs only its message, counted in
corrupt_records. Loading at boot is restore.py's (released afterwards), through adopt_state()
and adopt(); data from the log-based outbox (outbox.log) is moved over once, at the first boot
after the upgrade (migrate.py).
"""

import struct
from array import array

import bootonly
from micropython import const
from smallfiles import SmallFiles

PUT = 1
DONE = 2
STATE = 5
_FIRST_SEQ = const(1)
_MAX_SEQ = const(0xFFFFFFFF)
STATE_FILES = ("s", "t")


class Outbox:
    def __init__(self, directory, capacity):
        if capacity < 1:
            raise ValueError("outbox capacity: expected >= 1")
        self.capacity = capacity
        self.next_seq = _FIRST_SEQ
        self.dropped = 0
        self._state_at = 1  # which of STATE_FILES holds the newest state: the next drop writes the other
        self.corrupt_records = 0  # damaged files found at load
        self._seqs = []  # type: list  # waiting messages, oldest first, parallel to _payloads, _files_of
        self._payloads = []  # type: list
        self._files_of = []  # type: list  # the pool file holding each waiting message
        self._file_seqs = array("I")  # per pool file: the seq of the record it holds (0: none)
        self._file_busy = bytearray()  # per pool file: 1 while it holds a waiting message
        self._head = bytearray(12)
        self.files = SmallFiles(directory + "/outbox")
        # Read back through adopt() and adopt_state(); restore.py then leaves the heap.
        bootonly.call("restore", "load_outbox", self, directory)
        while len(self._seqs) > self.capacity:  # the capacity was lowered in the config
            self._drop_oldest()

    @property
    def depth(self):
        return len(self._seqs)

    def _grow_pool(self, size):
        while len(self._file_seqs) < size:
            self._file_seqs.append(0)
            self._file_busy.append(0)

    def _free_file(self):
        """The free pool file holding the oldest seq; the pool grows when fewer than two are free."""
        best = -1
        free = 0
        for index in range(len(self._file_seqs)):
            if self._file_busy[index]:
                continue
            free += 1
            if best < 0 or self._file_seqs[index] < self._file_seqs[best]:
                best = index
        if free < 2:
            self._grow_pool(len(self._file_seqs) + 1)
            return len(self._file_seqs) - 1
        return best

    def put(self, payload):
        """Durably queue payload; return its seq. Drops (and counts) the oldest message when full."""
        if self.next_seq > _MAX_SEQ:
            raise OSError(28, "outbox: seq space exhausted")  # 4 billion results: not in this device's life
        if len(self._seqs) >= self.capacity:
            # First, so the lists never outgrow the capacity (a list that doubles can fail on a
            # full heap). A power cut before the new message is written loses only it: put()
            # never returned (a dispense's result is then reported `interrupted` at boot).
            self._drop_oldest()
        seq = self.next_seq
        index = self._free_file()
        struct.pack_into("<I", self._head, 0, seq)
        self.files.write("%d" % index, PUT, memoryview(self._head)[:4], payload, free=True)
        self.adopt(index, seq, bytes(payload))
        return seq

    def adopt(self, index, seq, payload):
        """Pool file index holds seq's record: a waiting message (payload), or a free file (payload
        None; seq 0 when it holds no record). put() calls it for the file it wrote, and restore.py at
        boot for every pool file."""
        self._grow_pool(index + 1)
        self._file_seqs[index] = seq
        self.next_seq = max(self.next_seq, seq + 1)
        if payload is None:
            return
        i = len(self._seqs)
        while i > 0 and self._seqs[i - 1] > seq:
            i -= 1  # only at boot, where files come in no particular order: put()'s seq is the highest
        self._seqs.insert(i, seq)
        self._payloads.insert(i, payload)
        self._files_of.insert(i, index)
        self._file_busy[index] = 1

    def adopt_state(self, name, next_seq, dropped):
        """At boot (restore.py): the newest STATE record is in STATE_FILES `name` (the next drop
        writes the other)."""
        self.next_seq = max(self.next_seq, next_seq)
        self.dropped = dropped
        self._state_at = STATE_FILES.index(name)

    def _drop_oldest(self):
        """One write: the state says that every message below the next oldest's seq is gone."""
        self.dropped += 1
        kept_from = self._seqs[0] + 1
        struct.pack_into("<III", self._head, 0, self.next_seq, self.dropped, kept_from)
        self._state_at = 1 - self._state_at
        self.files.write(STATE_FILES[self._state_at], STATE, self._head, free=True)
        self._forget(0)

    def _release(self, i):
        """Rewrite the i-th waiting message's file as free, and forget the message."""
        struct.pack_into("<I", self._head, 0, self._seqs[i])
        self.files.write("%d" % self._files_of[i], DONE, memoryview(self._head)[:4])
        self._forget(i)

    def _forget(self, i):
        self._file_busy[self._files_of[i]] = 0
        self._seqs.pop(i)
        self._payloads.pop(i)
        self._files_of.pop(i)

    def at(self, index):
        """(seq, payload) of the index-th oldest message (0 = the oldest); IndexError past the end."""
        return self._seqs[index], self._payloads[index]

    def ack(self, seq):
        """Remove the message with this seq (after PUBACK); unknown or already removed seqs are a no-op."""
        for i in range(len(self._seqs)):
            if self._seqs[i] == seq:
                self._release(i)
                return

    def items(self):
        """(seq, payload) of every waiting message, oldest first."""
        for i in range(len(self._seqs)):
            yield self._seqs[i], self._payloads[i]


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
