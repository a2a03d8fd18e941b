"""Append-only log of CRC-framed records in one file: how the journal and the outbox were stored
before smallfiles.py. Now only migrate.py reads it, once, at the first boot after the upgrade (and
bench/storage_mpy.py models the old layout with it).

Frame, one per record:

    length (1 byte if < 128, else 2: 7-bit little-endian varint) | kind (1 byte) | body | crc32 (4 bytes, LE)

`length` counts kind + body; the CRC covers length, kind and body, so a flipped length is caught too.
A record costs 6 bytes (7 above 127) besides its body.

Loading (`Log.load`) hands every valid record to a callback, in order:
- A frame that fails (short read, bad CRC) where a valid frame follows later is corruption in the
  middle: it is skipped (`skipped` counts it) and the scan resynchronises on the next valid frame.
- A frame that fails with no valid frame after it is a torn tail (power lost mid-append): the file is
  rewritten to the valid prefix before anything is appended, so the garbage never ends up mid-file.
- `<path>.tmp` is a compaction that may not have finished. Compaction writes and closes the whole
  `.tmp` before renaming it over the original, so while the original exists the `.tmp` is the
  unfinished one and is deleted; if the original is missing (a filesystem whose rename cannot
  replace, so the original was removed first) the `.tmp` is complete and is renamed into place.

Durability: MicroPython has no os.fsync. A record is written with one write() of the whole
frame and then flush(), which on LittleFS (the ESP32 filesystem) is lfs_file_sync: the append
becomes durable at that point, atomically, or not at all. But each such sync copies the file's
last block on LittleFS (an erase per durable append, whatever the record size), which is why the
firmware moved to small files.

`bytes_written` counts every byte this module writes (appends, tail cuts and compactions), so the
benchmark measures real writes.
"""

import binascii
import os

MAX_BODY = 1024  # the largest stored result is ~160 bytes; a bound keeps a corrupt length from reading far
FRAME_OVERHEAD = 6  # 1-byte length, kind, crc32
# Compact when the file is both this big and RATIO times the bytes its live records take. Each
# rewrite of L live bytes then removes >= (RATIO-1)*L dead ones, and every byte dies at most once,
# so all rewrites together write at most 1/(RATIO-2) of what was appended (half, for 4).
COMPACT_MIN_BYTES = 4096
COMPACT_RATIO = 4
COPY_CHUNK = 256

bytes_written = 0


def _count(n):
    global bytes_written
    bytes_written += n


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _frame_into(buf, kind, head, body):
    """Write the frame of (kind, head + body) into buf (a memoryview); return its length."""
    length = len(head) + len(body) + 1
    if length < 128:
        buf[0] = length
        at = 1
    else:
        buf[0] = 0x80 | (length & 0x7F)
        buf[1] = length >> 7
        at = 2
    buf[at] = kind
    split = at + 1 + len(head)
    buf[at + 1 : split] = head
    end = at + length
    buf[split:end] = body
    crc = binascii.crc32(buf[:end])
    for i in range(4):
        buf[end + i] = (crc >> (8 * i)) & 0xFF
    return end + 4


def _read_frame(f, pos, size, view):
    """Read the frame at pos into view; return its end offset if it is valid, else -1."""
    f.seek(pos)
    if f.readinto(view[:2]) != 2:
        return -1
    length = view[0]
    at = 1
    if length & 0x80:
        length = (length & 0x7F) | (view[1] << 7)
        at = 2
    end = at + length
    if length < 1 or length > MAX_BODY + 1 or pos + end + 4 > size:
        return -1
    if f.readinto(view[2 : end + 4]) != end + 2:
        return -1
    crc = view[end] | (view[end + 1] << 8) | (view[end + 2] << 16) | (view[end + 3] << 24)
    if binascii.crc32(view[:end]) != crc:
        return -1
    return pos + end + 4


class Log:
    def __init__(self, path):
        self.path = path
        self.tmp_path = path + ".tmp"
        self.size = 0  # bytes in the file
        self.skipped = 0  # corrupt records skipped at the last load
        self.cut = 0  # bytes of torn tail removed at the last load
        self._frame = memoryview(bytearray(64))  # reused for every append; grows to the largest record
        self._file = None

    # -- loading ---------------------------------------------------------------------------------

    def load(self, on_record):
        """Call on_record(kind, body) for each valid record in order; repair a torn tail or compaction."""
        self._recover_tmp()
        self.cut = 0
        if not _exists(self.path):
            self.skipped = self.size = 0
            self._open_append()  # creates the file
            return
        size = os.stat(self.path)[6]
        valid_end = self.scan(on_record)
        if valid_end < size:
            self.cut = size - valid_end
            self._cut_to(valid_end)
        self.size = valid_end
        self._open_append()

    def scan(self, on_record):
        """Call on_record(kind, body) for each valid record, skipping corrupt ones; return the valid end.

        body is a memoryview into a buffer reused for the next record: copy what you keep.
        """
        self.skipped = 0
        size = os.stat(self.path)[6]
        view = memoryview(bytearray(MAX_BODY + FRAME_OVERHEAD + 1))
        pos = valid_end = 0
        with open(self.path, "rb") as f:
            while pos < size:
                end = _read_frame(f, pos, size, view)
                if end < 0:
                    pos = self._resync(f, pos + 1, size, view)
                    if pos < 0:
                        break  # nothing valid after it: a torn tail
                    self.skipped += 1
                    continue
                at = 2 if view[0] & 0x80 else 1
                on_record(view[at], view[at + 1 : end - pos - 4])
                pos = valid_end = end
        return valid_end

    @staticmethod
    def _resync(f, pos, size, view):
        """Offset of the next valid frame at or after pos, or -1."""
        while pos < size - FRAME_OVERHEAD + 1:
            if _read_frame(f, pos, size, view) >= 0:
                return pos
            pos += 1
        return -1

    def _recover_tmp(self):
        if not _exists(self.tmp_path):
            return
        if _exists(self.path):
            os.remove(self.tmp_path)  # an unfinished compaction: the original is intact
        else:
            os.rename(self.tmp_path, self.path)  # finished, but the rename had to remove the original first

    def _cut_to(self, end):
        """Rewrite the file to its first `end` bytes (no truncate() on MicroPython files)."""
        buf = bytearray(COPY_CHUNK)
        with open(self.path, "rb") as src, open(self.tmp_path, "wb") as dst:
            left = end
            while left > 0:
                n = src.readinto(buf)
                if not n:
                    break
                n = min(n, left)
                dst.write(memoryview(buf)[:n])
                _count(n)
                left -= n
            dst.flush()
        self._replace()

    # -- writing ---------------------------------------------------------------------------------

    def append(self, kind, head, body=b"", durable=True):
        """Append one record whose body is head + body: one write, then flush unless not durable.

        A record appended with durable=False becomes durable with the next flush or close.
        """
        f = self._file
        if f is None:
            raise OSError(9, "log closed")  # EBADF
        n = self._write_frame(f, kind, head, body)
        if durable:
            f.flush()
        self.size += n

    def _write_frame(self, f, kind, head, body):
        body_len = len(head) + len(body)
        if body_len > MAX_BODY:
            raise ValueError("record body over %d bytes" % MAX_BODY)
        if body_len + FRAME_OVERHEAD + 1 > len(self._frame):
            self._frame = memoryview(bytearray(body_len + FRAME_OVERHEAD + 1))
        n = _frame_into(self._frame, kind, head, body)
        written = f.write(self._frame[:n])
        _count(n)
        if written is not None and written != n:
            raise OSError(5, "short write")  # EIO
        return n

    def compact_if_it_pays(self, live_bytes, emit_all):
        """rewrite(emit_all) when the file is big and mostly dead; live_bytes() is asked only then."""
        if self.size >= COMPACT_MIN_BYTES and self.size >= COMPACT_RATIO * live_bytes():
            self.rewrite(emit_all)

    def rewrite(self, emit_all):
        """Atomically replace the file with the records emit_all(emit) produces via emit(kind, head, body).

        emit_all may read this log with scan(); when it returns False the rewrite is abandoned.
        """
        self.close()
        size = 0
        with open(self.tmp_path, "wb") as f:

            def emit(kind, head, body=b""):
                nonlocal size
                size += self._write_frame(f, kind, head, body)

            complete = emit_all(emit)
            f.flush()
        if complete:
            self._replace()
            self.size = size
        else:
            os.remove(self.tmp_path)
        self._open_append()

    def _replace(self):
        try:
            os.rename(self.tmp_path, self.path)
        except OSError:
            # FAT cannot rename over a file. The .tmp is complete here, and _recover_tmp finishes
            # the job if power goes between these two lines.
            os.remove(self.path)
            os.rename(self.tmp_path, self.path)

    def _open_append(self):
        self.close()
        self._file = open(self.path, "ab")

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def frame_size(body_len):
    """Bytes one record with a body of body_len takes on flash."""
    return body_len + FRAME_OVERHEAD + (1 if body_len + 1 >= 128 else 0)
