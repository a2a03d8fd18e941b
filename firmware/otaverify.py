"""Checks of a release staged in a directory before the device may switch to it (firmware/README.md,
"Over-the-air updates"). It only reads: a refusal changes nothing on the flash.

The release is what tools/release.py writes: the files, `manifest.txt` and `manifest.sig` (the
RSA signature of manifest.txt by the household's release key, signature.py). The manifest is
ASCII text, one item a line, so it is read a line at a time, never as a whole:

    cat-feeder release 1
    version 1.4.0
    downgrade 0
    file <size> <sha256 hex> <name>      (one line per file; flat names of [A-Za-z0-9_.-])

`check_manifest` runs before the files are fetched (signature, version, free space), and
`check_files` once they are there (each file's size and SHA-256, read in chunks). A refusal is
`Refused` whose message is the one-line reason.
"""

import binascii
import os

import signature
from micropython import const

MANIFEST = "manifest.txt"
SIGNATURE = "manifest.sig"
HEADER = "cat-feeder release 1"
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
CHUNK = const(512)  # bytes hashed per read
# LittleFS space: a file takes its size in blocks, each less the few words of its skip list
# (4 * (ctz(index) + 1) bytes; 32 covers files under 512 KB), a small file at most one block (it is
# inlined in its directory's metadata when small enough). The staging directory is a metadata pair
# (2 blocks); RESERVE_BLOCKS stay free so the journal and outbox can still write and compact.
BLOCK_OVERHEAD = const(32)
DIRECTORY_BLOCKS = const(2)
RESERVE_BLOCKS = const(8)


class Refused(Exception):
    """A release the device will not take; str() is the reason, one line."""


def parse_version(text):
    """(major, minor, patch) from "1.4.0", or None."""
    parts = text.split(".")
    if len(parts) != 3:
        return None
    try:
        version = (int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None
    return version if min(version) >= 0 else None


def version_text(version):
    return "%d.%d.%d" % version


def _blocks(size, block_size):
    per_block = block_size - BLOCK_OVERHEAD
    return max(1, (size + per_block - 1) // per_block)


def _fields(line, number):
    """The words of a manifest line; Refused naming the line when it is not a known item."""
    words = line.split()
    known = words and words[0] in ("version", "downgrade", "file")
    if not known or len(words) != (4 if words[0] == "file" else 2):
        raise Refused("bad manifest: line %d" % number)
    return words


def _file_entry(words, number):
    """(size, digest, name) of a `file` line."""
    name = words[3]
    ok = name not in (MANIFEST, SIGNATURE) and len(words[2]) == 64
    for ch in name:
        ok = ok and ch in NAME_CHARS
    try:
        size = int(words[1])
        digest = binascii.unhexlify(words[2])
    except ValueError:
        ok = False
    if not ok or size < 0 or name.startswith("."):
        raise Refused("bad manifest: line %d" % number)
    return size, digest, name


def _entries(directory):
    """Yield (number, words) for each line after the header of the directory's manifest."""
    with open(directory + "/" + MANIFEST) as f:
        if f.readline().rstrip("\n") != HEADER:
            raise Refused("bad manifest: not a cat-feeder release 1")
        number = 1
        while True:
            line = f.readline()
            if not line:
                return
            number += 1
            yield number, _fields(line, number)


def check_signature(directory, modulus, buf):
    """Refused unless manifest.sig is the release key's signature of manifest.txt."""
    if modulus is None:
        raise Refused("no release key on this device (ota.release_key: make flash provisions it)")
    try:
        digest = signature.file_digest(directory + "/" + MANIFEST, buf)
        with open(directory + "/" + SIGNATURE, "rb") as f:
            got = f.readinto(buf)  # CHUNK > KEY_BYTES: a longer file reads long and is refused
    except OSError:
        raise Refused("incomplete release: no manifest or signature") from None
    if not signature.valid(memoryview(buf)[:got], digest, modulus):
        raise Refused("bad signature")


def check_manifest(directory, modulus, running, statvfs, buf=None):
    """The signed manifest's (version, downgrade, total bytes), or Refused: a bad signature, a version
    not newer than running (a (major, minor, patch) tuple) without the signed downgrade flag, or a
    release that does not fit in the free space statvfs (os.statvfs of the directory) reports."""
    buf = buf or bytearray(CHUNK)
    check_signature(directory, modulus, buf)
    version = downgrade = None
    blocks = DIRECTORY_BLOCKS
    total = files = 0
    block_size = statvfs[0]
    for number, words in _entries(directory):
        if words[0] == "version":
            version = parse_version(words[1])
        elif words[0] == "downgrade":
            downgrade = {"0": False, "1": True}.get(words[1])
        else:
            size = _file_entry(words, number)[0]
            blocks += _blocks(size, block_size)
            total += size
            files += 1
    if version is None or downgrade is None or not files:
        raise Refused("bad manifest: no version, downgrade or file line")
    if version <= running and not downgrade:
        raise Refused("not newer: %s, running %s (a downgrade must be signed as one)"
                      % (version_text(version), version_text(running)))
    free = statvfs[4]
    if blocks + RESERVE_BLOCKS > free:
        raise Refused("does not fit: %d blocks needed and %d kept free, %d free"
                      % (blocks, RESERVE_BLOCKS, free))
    return version, downgrade, total


def check_files(directory, buf=None):
    """Refused unless every file the manifest lists is in the directory with its size and SHA-256.
    Call after check_manifest (which trusts the manifest only once its signature holds)."""
    buf = buf or bytearray(CHUNK)
    for number, words in _entries(directory):
        if words[0] != "file":
            continue
        size, digest, name = _file_entry(words, number)
        path = directory + "/" + name
        try:
            found = os.stat(path)[6]
        except OSError:
            raise Refused("missing file: " + name) from None
        if found != size or signature.file_digest(path, buf) != digest:
            raise Refused("hash mismatch: " + name)

