"""otaverify.py and signature.py: a staged release is taken only with a good signature, every file's
size and SHA-256, a newer version (or a signed downgrade) and room on the flash; each refusal is one
line and changes nothing on the flash. On CPython and on MicroPython (64K heap).

The signed manifests are vectors (tests/vectors/ota_release.json, tests/vectors/make_ota_release.py):
MicroPython cannot sign, and no private key is committed.
"""

import hashlib
import os

import otaverify
import signature
from fwtest import raises, remove_tree, tmpdir
from otarig import MODULUS, VECTORS, write

BLOCK = 4096
RUNNING = otaverify.parse_version(VECTORS["running"])


def statvfs(free_blocks):
    """os.statvfs's tuple as MicroPython's LittleFS gives it (extmod/vfs_lfsx.c): bsize, frsize,
    blocks, bfree, bavail, ..."""
    return (BLOCK, BLOCK, 512, free_blocks, free_blocks, 0, 0, 0, 0, 255)


ROOMY = statvfs(400)


def signed_as(stage, case, manifest=None):
    """Put release case's signature in stage, and manifest (text) as its manifest when given."""
    write(stage + "/" + otaverify.SIGNATURE, bytes.fromhex(VECTORS["releases"][case]["signature"]))
    if manifest is not None:
        write(stage + "/" + otaverify.MANIFEST, manifest.encode())


def staged(case="newer"):
    """A flash root with the running set (main.py) and the release `case` staged in ota/: (root, stage)."""
    root = tmpdir()
    write(root + "/main.py", b"print('running set')\n")
    stage = root + "/ota"
    os.mkdir(stage)
    signed_as(stage, case, VECTORS["releases"][case]["manifest"])
    for name, text in VECTORS["files"].items():
        write(stage + "/" + name, text.encode())
    return root, stage


def snapshot(path):
    """{relative path: sha256} of every file under path: what a refusal must leave as it was."""
    found = {}
    for entry in os.ilistdir(path) if hasattr(os, "ilistdir") else [(n,) for n in os.listdir(path)]:
        name = path + "/" + entry[0]
        try:
            inner = snapshot(name)
        except OSError:
            with open(name, "rb") as f:
                found[name] = hashlib.sha256(f.read()).digest()
        else:
            found.update(inner)
    return found


def refused(root, check, *args):
    """The one-line reason check(*args) refused with; the flash is the same before and after."""
    before = snapshot(root)
    reason = str(raises(otaverify.Refused, check, *args))
    assert snapshot(root) == before, reason
    assert reason and "\n" not in reason
    return reason


def test_a_newer_signed_release_with_every_file_intact_is_accepted():
    root, stage = staged()
    try:
        version, downgrade, size = otaverify.check_manifest(stage, MODULUS, RUNNING, ROOMY)
        assert (version, downgrade) == ((1, 2, 0), False)
        assert size == sum(len(text) for text in VECTORS["files"].values())
        otaverify.check_files(stage)
    finally:
        remove_tree(root)


def test_a_signature_that_does_not_match_the_manifest_is_refused():
    root, stage = staged()
    try:
        sig = bytearray(bytes.fromhex(VECTORS["releases"]["newer"]["signature"]))
        sig[100] ^= 1
        write(stage + "/" + otaverify.SIGNATURE, sig)
        assert refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, ROOMY) == "bad signature"
        signed_as(stage, "same")  # another release's valid signature, over another manifest
        assert refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, ROOMY) == "bad signature"
        # The right signature over a manifest changed by one digit: a version raised in transit.
        signed_as(stage, "newer", VECTORS["releases"]["newer"]["manifest"].replace("1.2.0", "9.2.0"))
        assert refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, ROOMY) == "bad signature"
    finally:
        remove_tree(root)


def test_a_signature_of_the_wrong_length_or_key_or_none_is_refused():
    root, stage = staged()
    try:
        sig = bytes.fromhex(VECTORS["releases"]["newer"]["signature"])
        for wrong in (sig[:-1], sig + b"\0", b""):
            write(stage + "/" + otaverify.SIGNATURE, wrong)
            assert refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, ROOMY) == "bad signature"
        write(stage + "/" + otaverify.SIGNATURE, sig)
        other_key = MODULUS - 2  # another (odd) modulus: the signature opens to something else
        assert refused(root, otaverify.check_manifest, stage, other_key, RUNNING, ROOMY) == "bad signature"
        reason = refused(root, otaverify.check_manifest, stage, None, RUNNING, ROOMY)
        assert reason.startswith("no release key on this device"), reason
        os.remove(stage + "/" + otaverify.SIGNATURE)
        reason = refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, ROOMY)
        assert reason == "incomplete release: no manifest or signature", reason
    finally:
        remove_tree(root)


def test_a_file_whose_hash_or_size_differs_or_that_is_missing_is_refused():
    root, stage = staged()
    try:
        otaverify.check_manifest(stage, MODULUS, RUNNING, ROOMY)
        text = VECTORS["files"]["main.py"]
        # One byte changed in the last, short chunk (1500 = 2 x 512 + 476), then in the first.
        for changed in (text[:-1] + "#", "#" + text[1:]):
            write(stage + "/main.py", changed.encode())
            assert refused(root, otaverify.check_files, stage) == "hash mismatch: main.py"
        write(stage + "/main.py", (text + "\n").encode())
        assert refused(root, otaverify.check_files, stage) == "hash mismatch: main.py"
        write(stage + "/main.py", text.encode())
        os.remove(stage + "/alpha.mpy")
        assert refused(root, otaverify.check_files, stage) == "missing file: alpha.mpy"
    finally:
        remove_tree(root)


def test_a_version_not_newer_is_refused_unless_signed_as_a_downgrade():
    for case, shown in (("same", "1.1.0"), ("older", "1.0.9")):
        root, stage = staged(case)
        try:
            reason = refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, ROOMY)
            assert reason == "not newer: %s, running 1.1.0 (a downgrade must be signed as one)" % shown
        finally:
            remove_tree(root)
    root, stage = staged("downgrade")
    try:
        assert otaverify.check_manifest(stage, MODULUS, RUNNING, ROOMY)[:2] == ((1, 0, 9), True)
        # The flag is under the signature: set by hand on a plain older release, it breaks it.
        flagged = VECTORS["releases"]["older"]["manifest"].replace("downgrade 0", "downgrade 1")
        signed_as(stage, "older", flagged)
        assert refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, ROOMY) == "bad signature"
    finally:
        remove_tree(root)


def test_a_release_that_does_not_fit_in_the_free_blocks_is_refused():
    root, stage = staged()
    try:
        # Two files of under a block each, the staging directory's pair, and the reserve.
        needed = 2 + otaverify.DIRECTORY_BLOCKS + otaverify.RESERVE_BLOCKS
        otaverify.check_manifest(stage, MODULUS, RUNNING, statvfs(needed))
        reason = refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, statvfs(needed - 1))
        assert reason == "does not fit: 4 blocks needed and 8 kept free, %d free" % (needed - 1), reason
        # This filesystem's own answer (LittleFS on the board, the host's here) has the same shape.
        assert otaverify.check_manifest(stage, MODULUS, RUNNING, os.statvfs(stage))[0] == (1, 2, 0)
    finally:
        remove_tree(root)


def test_a_signed_manifest_that_is_not_a_release_is_refused():
    root, stage = staged("no_files")
    try:
        reason = refused(root, otaverify.check_manifest, stage, MODULUS, RUNNING, ROOMY)
        assert reason == "bad manifest: no version, downgrade or file line", reason
    finally:
        remove_tree(root)


def test_versions_parse_only_as_three_numbers():
    assert otaverify.parse_version("1.4.0") == (1, 4, 0)
    assert otaverify.parse_version("10.0.12") > otaverify.parse_version("9.9.99")
    for bad in ("1.4", "1.4.0.1", "1.x.0", "", "1..0", "-1.0.0"):
        assert otaverify.parse_version(bad) is None, bad


def test_file_digest_reads_in_chunks_of_the_buffer():
    root = tmpdir()
    try:
        for size in (0, 1, 511, 512, 513, 2048):
            data = bytes(i % 251 for i in range(size))
            write(root + "/f", data)
            assert signature.file_digest(root + "/f", bytearray(512)) == hashlib.sha256(data).digest()
    finally:
        remove_tree(root)
