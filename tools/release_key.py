"""The household's release key: RSA-2048 (exponent 65537), PKCS#1 v1.5 signatures with SHA-256, which
the board checks with one pow() (firmware/signature.py says why v1.5 and not PSS).

The private key lives in a git-ignored folder (default .release/, 0700, the key 0600), made by the
first `make release` and reused after: every board provisioned with its modulus accepts only
releases it signed, so it must be kept (and backed up) like the development PKI, and never committed.
"""

import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DIR = os.path.join(ROOT, ".release")
KEY_FILE = "release.key.pem"
BITS = 2048
EXPONENT = 65537


def key_path(directory=DEFAULT_DIR):
    return os.path.join(directory, KEY_FILE)


def ensure(directory=DEFAULT_DIR):
    """The private key in directory, generated there first when absent: (key, True when new)."""
    path = key_path(directory)
    if os.path.exists(path):
        return load(directory), False
    os.makedirs(directory, mode=0o700, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=EXPONENT, key_size=BITS)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key, True


def load(directory=DEFAULT_DIR):
    with open(key_path(directory), "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def modulus_hex(directory=DEFAULT_DIR):
    """The public modulus as the board's config holds it (ota.release_key: 512 lowercase hex digits),
    or None when no key was made yet."""
    if not os.path.exists(key_path(directory)):
        return None
    return "%0512x" % load(directory).public_key().public_numbers().n


def sign(key, data):
    """The 256-byte RSA PKCS#1 v1.5 SHA-256 signature of data."""
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
