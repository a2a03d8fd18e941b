"""`make release` (tools/release.py, tools/release_key.py) and the release key at `make flash`
(tools/board.py): the board's own checks (firmware/otaverify.py, run here on CPython) take what the
tool writes, and the key stays in its git-ignored folder."""

import os
import stat
import subprocess
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.makerun import make, own_lines
from tools import board, release, release_key

# The board's modules import each other by top-level name, and micropython.const (tests/firmware).
sys.path[:0] = [board.FIRMWARE, os.path.join(board.ROOT, "tests", "firmware", "cpython")]
import otaverify  # noqa: E402


def test_a_release_holds_the_boards_files_listed_hashed_and_signed(tmp_path):
    keys, out = str(tmp_path / "key"), str(tmp_path / "out")
    lines = []
    target = release.build("1.4.0", out=out, key_dir=keys, log=lines.append)
    assert target == os.path.join(out, "1.4.0")
    # The key: 0600 in a 0700 folder, and only there.
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(release_key.key_path(keys)).st_mode) == 0o600
    assert not [name for name in os.listdir(target) if name.endswith(".pem")]
    # What make flash puts on the board, but the board's own config and certificates.
    sources = [name for name in os.listdir(board.FIRMWARE) if name.endswith(".py") and name != "manifest.py"]
    expected = {name if name in board.ENTRY_POINTS else name[:-3] + ".mpy" for name in sources}
    assert set(os.listdir(target)) == expected | {release.MANIFEST, release.SIGNATURE}
    assert [line.split(" in ")[0] for line in lines] == [
        "release: generated the release key", "release: 1.4.0, %d files, %d bytes, signed,"
        % (len(expected), sum(os.path.getsize(os.path.join(target, name)) for name in os.listdir(target)))]
    with open(os.path.join(target, release.MANIFEST), "rb") as handle:
        manifest = handle.read()
    with open(os.path.join(target, release.SIGNATURE), "rb") as handle:
        signature = handle.read()
    release_key.load(keys).public_key().verify(signature, manifest, padding.PKCS1v15(), hashes.SHA256())
    assert manifest.decode().splitlines()[:3] == ["cat-feeder release 1", "version 1.4.0", "downgrade 0"]
    # The board's checks, with the modulus make flash provisions.
    modulus = int(release_key.modulus_hex(keys), 16)
    free = os.statvfs(target)
    assert otaverify.check_manifest(target, modulus, (1, 3, 9), free)[:2] == ((1, 4, 0), False)
    otaverify.check_files(target)
    refused = None
    try:
        otaverify.check_manifest(target, modulus, (1, 4, 0), free)
    except otaverify.Refused as error:
        refused = str(error)
    assert refused == "not newer: 1.4.0, running 1.4.0 (a downgrade must be signed as one)"


def test_the_key_is_made_once_and_a_downgrade_is_signed_as_one(tmp_path):
    keys, out = str(tmp_path / "key"), str(tmp_path / "out")
    release.build("2.0.0", out=out, key_dir=keys, log=lambda line: None)
    first = release_key.modulus_hex(keys)
    lines = []
    target = release.build("1.9.0", downgrade=True, out=out, key_dir=keys, log=lines.append)
    assert release_key.modulus_hex(keys) == first and len(first) == 512
    assert lines == ["release: 1.9.0 (signed as a downgrade), %d files, %d bytes, signed, in %s"
                     % (len(os.listdir(target)) - 2,
                        sum(os.path.getsize(os.path.join(target, n)) for n in os.listdir(target)),
                        os.path.relpath(target))]
    otaverify.check_manifest(target, int(first, 16), (2, 0, 0), os.statvfs(target))


def test_make_release_refuses_a_version_that_is_not_three_numbers_in_one_line(tmp_path):
    done = make("release", "VERSION=1.4")
    assert done.returncode != 0
    assert own_lines(done.stderr) == [
        "release: VERSION=1.4: expected MAJOR.MINOR.PATCH, e.g. make release VERSION=1.4.0"]


def test_make_flash_provisions_the_release_keys_modulus_when_there_is_one(tmp_path, monkeypatch, good_config):
    monkeypatch.setattr(board, "RELEASE_DIR", str(tmp_path / "no-key-yet"))
    provisioned = board.provisioned_config(good_config, str(tmp_path))[0]
    assert "ota" not in provisioned
    keys = str(tmp_path / "key")
    release_key.ensure(keys)
    monkeypatch.setattr(board, "RELEASE_DIR", keys)
    provisioned = board.provisioned_config(good_config, str(tmp_path))[0]
    assert provisioned["ota"]["release_key"] == release_key.modulus_hex(keys)


def test_make_flash_forgets_the_updates_and_the_version_so_the_set_it_writes_runs_next(tmp_path, monkeypatch):
    real_run = subprocess.run
    commands = []

    def recorded(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(board.subprocess, "run", recorded)
    board.copy_to_board("/dev/ttyACM0", str(tmp_path))
    board.copy_to_board("/dev/ttyACM0", str(tmp_path), str(tmp_path / "manifest"))
    command, with_release = commands
    assert command.index("exec") < command.index("cp")
    # A release's manifest (its version) is copied after every file: a copy cut short has no version.
    copies = [with_release[at + 1:at + 3] for at, word in enumerate(with_release) if word == "cp"]
    manifest = tmp_path / "manifest"
    assert copies == [["-r", str(tmp_path) + "/."], [str(manifest / board.SIGNATURE), ":manifest.sig"],
                      [str(manifest / board.MANIFEST), ":manifest.txt"]]
    assert with_release[-2:] == ["+", "reset"]
    before_copy = command[command.index("exec") + 1]
    # Run on MicroPython as mpremote runs it on the board, whose working directory is its flash root:
    # with an update's state and a release's manifest, then without (nothing to forget is no error).
    flash = tmp_path / "flash"
    (flash / "ota" / "a").mkdir(parents=True)
    (flash / "ota" / "state").write_text("a - 0 -\n")
    (flash / "manifest.txt").write_text("cat-feeder release 1\nversion 1.5.0\n")
    (flash / "manifest.sig").write_bytes(b"\0" * 256)
    for _ in range(2):
        done = real_run([os.path.join(board.BIN, "micropython"), "-c", before_copy], cwd=flash,
                        capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert sorted(path.name for path in (flash / "ota").iterdir()) == ["a"]
        assert sorted(path.name for path in flash.iterdir()) == ["ota"]
