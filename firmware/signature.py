"""RSA-2048 signature check of a release manifest: PKCS#1 v1.5 with SHA-256 (RFC 8017, 8.2.2).

v1.5 rather than PSS because its encoding is deterministic: the device builds the one encoded
message a valid signature can open to and compares integers, `pow(signature, 65537, n) ==
expected`, with nothing to parse (PSS needs MGF1 and a salt recovered from the opened block).
The public exponent is fixed at 65537 (what tools/release_key.py generates), so the key on the
board is only its modulus (config `ota.release_key`, 512 hex digits). One pow on MicroPython's
big integers: milliseconds, a few hundred bytes of heap (bench/ota_verify_mpy.py).
"""

import hashlib

from micropython import const

KEY_BYTES = const(256)  # RSA-2048
EXPONENT = const(65537)
# DER of DigestInfo{sha256, NULL} without the digest (RFC 8017, 9.2 note 1).
SHA256_DIGEST_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"


def file_digest(path, buf):
    """SHA-256 of the file at path, read in len(buf)-byte chunks into buf (no allocation per chunk)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            got = f.readinto(buf)
            if not got:
                break
            # A memoryview slice allocates: only the short last chunk takes one.
            digest.update(buf if got == len(buf) else memoryview(buf)[:got])
    return digest.digest()


def valid(signature, digest, modulus):
    """True when signature (KEY_BYTES bytes) is the RSA PKCS#1 v1.5 signature of the SHA-256 digest
    by the key with this modulus (an int)."""
    if len(signature) != KEY_BYTES:
        return False
    opened = int.from_bytes(signature, "big")
    if opened >= modulus:
        return False
    padding = KEY_BYTES - 3 - len(SHA256_DIGEST_INFO) - len(digest)
    # The block a valid signature opens to, as an int: its bytes are garbage before pow runs.
    expected = int.from_bytes(b"\x00\x01" + b"\xff" * padding + b"\x00" + SHA256_DIGEST_INFO + digest, "big")
    return pow(opened, EXPONENT, modulus) == expected
