"""A directory of small files, one CRC'd record each, each replaced whole and atomically: the
storage under the journal and the outbox.

Why: on LittleFS (the ESP32's filesystem) a file of at most 128 bytes is kept inline in its
directory's metadata, and rewriting it is one metadata commit appended to a block that is erased
only when it fills up. Each sync of an appended log instead rewrites the log's last block: an
erase (45-400 ms on SPI NOR) between a command and its servo. bench/storage_mpy.py counts both
on a LittleFS image.

File content: kind (1 byte) | body | crc32 of kind and body (4 bytes, little-endian). The length is
the file's size, so a record costs 5 bytes besides its body; under INLINE_MAX it is inline.

write(name, ...) replaces the file's record atomically: after a power cut the file holds the old
record or the new one, never a mix, on every filesystem:
- LittleFS is copy-on-write: an opened file's new content is committed by close() in one
  metadata commit, or not at all. So the record is written in place (one commit once the file
  exists; a new file's open is a commit of its own that leaves it empty until the close). Which
  filesystem the directory is on is checked once, at boot, by restore.py (`in_place`); until
  then a write takes the rename below, which is atomic on LittleFS too.
- Elsewhere (the unix port's POSIX filesystem, FAT) a rewrite in place could be torn, so the
  record goes to `<name>.new`, which is then renamed over the file (atomic on POSIX). A leftover
  `.new` is a write that never returned: loading at boot (restore.py) removes it.
  A caller whose file holds only a free (disposable) record says so (write(..., free=True)): the
  file is then removed before the rename, because ext4 flushes the renamed file's data when a
  rename replaces an existing file (and when a truncated file is closed), which makes the rename
  over it ~2.5x slower on the unix port. A cut then leaves the old record, no file, or the new one.
An empty file is a create that never returned (LittleFS); any other file failing its CRC is damage.
Reading the records back (and the filesystem check) happens only at boot, in restore.py, which
leaves the heap afterwards.

`bytes_written` counts every byte this module writes, so the benchmark measures real writes.
"""

import binascii
import os

# LittleFS's inline limit with MicroPython's defaults (cache_size = 4 * 32 B); bigger files still
# work, they take a block of their own (and its erase).
INLINE_MAX = 128
MAX_RECORD = 1024  # a bound keeps a damaged file from being read far
NEW = ".new"  # the suffix of a write in progress (restore.py removes leftovers)

bytes_written = 0


def make_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass  # exists already; a real failure shows up at the first write


class SmallFiles:
    def __init__(self, directory, fanout=False):
        """fanout: keep each file in a sub-directory named by the first character of its name (the
        journal's 256 slots: 16 directories of 16). A LittleFS directory is a metadata pair, and a
        compaction copies every file in it into the freshly erased block: fewer files per directory
        leave more of the block free, so it fills, and is erased, less often. Files of the flat
        layout (before fanout) are moved into place at boot by restore.py, each by an atomic rename."""
        make_dir(directory)
        self.directory = directory
        self._prefix = directory + "/"
        self.fanout = fanout
        self.in_place = False  # True on LittleFS: set at boot by restore.py, which checks the mount
        self._record = bytearray(64)  # reused for every write; grows to the largest record

    def path(self, name):
        """The path of the file `name` (in its sub-directory with fanout)."""
        if self.fanout:
            return self._prefix + name[0] + "/" + name
        return self._prefix + name

    def write(self, name, kind, head, body=b"", free=False):
        """Atomically replace (or create) `name` with the record (kind, head + body); durable on return.
        free=True: the file's current record may be lost, as if the file were missing (see above)."""
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
        path = self.path(name)
        target = path if self.in_place else path + NEW
        if free and not self.in_place:
            try:
                os.remove(path)
            except OSError:
                pass  # no file yet
        try:
            f = open(target, "wb")
        except OSError:
            if not self.fanout:
                raise
            make_dir(self._prefix + name[0])  # its sub-directory's first file
            f = open(target, "wb")
        with f:
            written = f.write(memoryview(record)[: size + 4])
        bytes_written += size + 4
        if written is not None and written != size + 4:
            raise OSError(5, "short write")  # EIO
        if not self.in_place:
            try:
                os.rename(target, path)
            except OSError:  # FAT cannot rename over a file: not atomic there (the ESP32 formats LittleFS)
                self.remove(name)
                os.rename(target, path)

    def remove(self, name):
        try:
            os.remove(self.path(name))
        except OSError:
            pass  # already gone: removing is idempotent
