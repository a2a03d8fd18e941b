"""A directory of small files, one CRC'd record each: the storage under the journal and the outbox.

Why files and not a log: on LittleFS (the ESP32's filesystem) a file of at most 128 bytes is kept
inline in its directory's metadata, so creating, renaming or removing one is a single metadata
commit appended to a block that is erased only when it fills up. Each sync of an appended log
instead rewrites the log's last block, an erase (45-400 ms on SPI NOR) between a command and its
servo. bench/storage_mpy.py counts both on a LittleFS image: 0.05 against 3.1 erases per command.

File content: kind (1 byte) | body | crc32 of kind and body (4 bytes, little-endian). The length is
the file's size, so a record is 5 bytes besides its body and must stay under INLINE_MAX to be inline.

Durability and atomicity, without os.fsync:
- write(name, ...) creates a file with one write() and close(). On LittleFS the close is the
  commit that gives the file its content; on any filesystem a power cut before it leaves a short or
  empty file, whose CRC fails: read() returns None and the owner treats it as never written (its
  write never returned, so nothing acted on it). write() is only used for names that do not exist.
- rename(old, new) is how a record changes state or replaces another: atomic on LittleFS and POSIX,
  so after a power cut exactly one of the two names holds the record.
- remove(name) is one commit too.

`bytes_written` counts every byte this module writes, so the benchmark measures real writes.
"""

import binascii
import os

# LittleFS's inline limit with MicroPython's defaults (cache_size = 4 * 32 B); bigger files still
# work, they take a block of their own (and its erase).
INLINE_MAX = 128
MAX_RECORD = 1024  # a bound keeps a damaged file from being read far
OVERHEAD = 5  # kind, crc32

bytes_written = 0


def make_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass  # exists already; a real failure shows up at the first write


class SmallFiles:
    def __init__(self, directory):
        make_dir(directory)
        self.directory = directory
        self._record = bytearray(64)  # reused for every write; grows to the largest record
        self._read = memoryview(bytearray(MAX_RECORD + 1))

    def _path(self, name):
        return self.directory + "/" + name

    def names(self):
        """The names of every file in the directory, in no particular order."""
        if not hasattr(os, "ilistdir"):  # CPython, for the tests
            yield from os.listdir(self.directory)
            return
        for entry in os.ilistdir(self.directory):  # no list of every name at once
            yield entry[0]

    def write(self, name, kind, head, body=b""):
        """Create `name` holding the record (kind, head + body); durable when this returns."""
        global bytes_written
        size = 1 + len(head) + len(body)
        if size + 4 > MAX_RECORD:
            raise ValueError("record over %d bytes" % MAX_RECORD)
        if size + 4 > len(self._record):
            self._record = bytearray(size + 4)
        record = self._record
        record[0] = kind
        record[1 : 1 + len(head)] = head
        record[1 + len(head) : size] = body
        crc = binascii.crc32(memoryview(record)[:size])
        for i in range(4):
            record[size + i] = (crc >> (8 * i)) & 0xFF
        with open(self._path(name), "wb") as f:
            written = f.write(memoryview(record)[: size + 4])
        bytes_written += size + 4
        if written is not None and written != size + 4:
            raise OSError(5, "short write")  # EIO

    def read(self, name):
        """(kind, body) of the record in `name`, body a memoryview valid until the next read; None
        when the file is torn or damaged (bad CRC, too short, too long) or missing."""
        view = self._read
        try:
            with open(self._path(name), "rb") as f:
                n = f.readinto(view)
        except OSError:
            return None
        if n is None or n < OVERHEAD or n > MAX_RECORD:
            return None
        end = n - 4
        crc = view[end] | (view[end + 1] << 8) | (view[end + 2] << 16) | (view[end + 3] << 24)
        if binascii.crc32(view[:end]) != crc:
            return None
        return view[0], view[1:end]

    def rename(self, old, new):
        """Rename old to new, replacing new: atomic on LittleFS and POSIX."""
        try:
            os.rename(self._path(old), self._path(new))
        except OSError:
            # FAT cannot rename over a file: not atomic there (the ESP32 port formats LittleFS).
            self.remove(new)
            os.rename(self._path(old), self._path(new))

    def remove(self, name):
        try:
            os.remove(self._path(name))
        except OSError:
            pass  # already gone: removing is idempotent
