"""Build a signed release of the firmware for over-the-air updates (firmware/README.md, "Over-the-air
updates"):

    python -m tools.release VERSION [--downgrade] [--out build/release] [--key-dir .release]

Writes build/release/<VERSION>/: the files the board runs, compiled exactly as `make flash` stages
them (tools/board.py stage_modules: main.py and boot.py as source, every other module as .mpy for
rv32imc), `manifest.txt` (format: firmware/otaverify.py) and `manifest.sig`, the signature of
manifest.txt by the household's release key (tools/release_key.py; generated into .release/ on
the first run). VERSION is MAJOR.MINOR.PATCH; a board takes only a newer version, unless the
release is signed as a downgrade (--downgrade). The board's config.json and certificates are not
part of a release: they are the board's own. A failure is one line on stderr, exit status 1.
"""

import argparse
import hashlib
import os
import re
import shutil
import sys

from tools import release_key
from tools.board import FIRMWARE, RELEASES, stage_modules

DEFAULT_OUT = RELEASES
# What firmware/otaverify.py reads (it needs MicroPython's modules, so it is not imported here);
# tests/tools/test_release.py checks the board's verifier accepts what this writes.
MANIFEST, SIGNATURE, HEADER = "manifest.txt", "manifest.sig", "cat-feeder release 1"
VERSION = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")


class ReleaseError(Exception):
    """A failure the user can fix; its message says how, in one line."""


def manifest_text(version, downgrade, directory):
    """The manifest of the files in directory (sorted by name), in otaverify's format."""
    lines = [HEADER, "version " + version, "downgrade %d" % downgrade]
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as handle:
            content = handle.read()
        lines.append("file %d %s %s" % (len(content), hashlib.sha256(content).hexdigest(), name))
    return "\n".join(lines) + "\n"


def build(version, downgrade=False, out=DEFAULT_OUT, key_dir=release_key.DEFAULT_DIR, log=print,
          firmware=FIRMWARE):
    """Compile, list and sign one release of the firmware folder (this checkout's; a test's patched copy)
    into out/<version>/; returns that folder."""
    if not VERSION.fullmatch(version):
        raise ReleaseError("VERSION=%s: expected MAJOR.MINOR.PATCH, e.g. make release VERSION=1.4.0"
                           % version)
    key, new = release_key.ensure(key_dir)
    if new:
        log("release: generated the release key in %s: keep it and back it up; boards flashed from now on "
            "take only releases it signs (make flash provisions its public part)" % os.path.relpath(key_dir))
    target = os.path.join(out, version)
    if os.path.exists(target):
        shutil.rmtree(target)
    os.makedirs(target)
    stage_modules(firmware, target)
    manifest = manifest_text(version, downgrade, target).encode()
    with open(os.path.join(target, MANIFEST), "wb") as handle:
        handle.write(manifest)
    with open(os.path.join(target, SIGNATURE), "wb") as handle:
        handle.write(release_key.sign(key, manifest))
    files = manifest.count(b"\nfile ")
    size = sum(os.path.getsize(os.path.join(target, name)) for name in os.listdir(target))
    log("release: %s%s, %d files, %d bytes, signed, in %s"
        % (version, " (signed as a downgrade)" if downgrade else "", files, size, os.path.relpath(target)))
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build a signed firmware release for over-the-air updates.")
    parser.add_argument("version", help="MAJOR.MINOR.PATCH")
    parser.add_argument("--downgrade", action="store_true", help="sign it as an explicit downgrade")
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--key-dir", default=release_key.DEFAULT_DIR)
    args = parser.parse_args(argv)
    try:
        build(args.version, args.downgrade, args.out, args.key_dir)
    except ReleaseError as error:
        print("release: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
