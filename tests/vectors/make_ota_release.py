"""Write tests/vectors/ota_release.json and ota_bench_100k.json: signed manifests for the board's
release checks (tests/firmware/test_otaverify.py, bench/ota_verify_mpy.py): MicroPython cannot sign.

    .venv/bin/python -m tests.vectors.make_ota_release

Signed by a throwaway release key (tools/release_key.py) in a temporary folder, deleted at once: the
vector holds only its modulus, and no private key is ever committed. The files are ASCII text of
700 and 1500 bytes (a short last chunk and several whole ones for otaverify.CHUNK = 512).
ota_bench_100k.json is the release bench/ota_verify_mpy.py checks: BENCH_FILES files of BENCH_SIZE bytes
(100 KiB, about the firmware's 48 KB twice over), file i's byte j being (31 i + 7 j) mod 256.
"""

import hashlib
import json
import os
import tempfile

from tools import release_key
from tools.release import HEADER

FILES = {"alpha.mpy": "".join(chr(65 + i % 26) for i in range(700)),
         "main.py": "".join(chr(97 + i * 7 % 26) for i in range(1500))}
# name: (version, downgrade): every case the checks tell apart by version.
RELEASES = {"newer": ("1.2.0", 0), "same": ("1.1.0", 0), "older": ("1.0.9", 0), "downgrade": ("1.0.9", 1),
            "no_files": ("1.2.0", None)}
BENCH_FILES, BENCH_SIZE = 32, 3200
HERE = os.path.dirname(os.path.abspath(__file__))
PATH, BENCH_PATH = os.path.join(HERE, "ota_release.json"), os.path.join(HERE, "ota_bench_100k.json")


def bench_file(index):
    return bytes((31 * index + 7 * j) % 256 for j in range(BENCH_SIZE))


def bench_manifest():
    lines = [HEADER, "version 1.2.0", "downgrade 0"]
    for index in range(BENCH_FILES):
        digest = hashlib.sha256(bench_file(index)).hexdigest()
        lines.append("file %d %s f%02d.mpy" % (BENCH_SIZE, digest, index))
    return "\n".join(lines) + "\n"


def manifest(version, downgrade):
    if downgrade is None:  # signed, but not a release: no downgrade line and no file
        return "%s\nversion %s\n" % (HEADER, version)
    lines = [HEADER, "version " + version, "downgrade %d" % downgrade]
    for name, text in sorted(FILES.items()):
        lines.append("file %d %s %s" % (len(text), hashlib.sha256(text.encode()).hexdigest(), name))
    return "\n".join(lines) + "\n"


def main():
    with tempfile.TemporaryDirectory() as folder:
        key, _ = release_key.ensure(folder)
        modulus = release_key.modulus_hex(folder)
        releases = {}
        for name, (version, downgrade) in RELEASES.items():
            text = manifest(version, downgrade)
            releases[name] = {"manifest": text, "signature": release_key.sign(key, text.encode()).hex()}
        text = bench_manifest()
        bench = {"manifest": text, "signature": release_key.sign(key, text.encode()).hex(),
                 "modulus": modulus, "running": "1.1.0", "files": BENCH_FILES, "size": BENCH_SIZE}
    tests = {"running": "1.1.0", "modulus": modulus, "files": FILES, "releases": releases}
    for path, vector in ((PATH, tests), (BENCH_PATH, bench)):
        with open(path, "w") as handle:
            json.dump(vector, handle, indent=1, sort_keys=True)
            handle.write("\n")


if __name__ == "__main__":
    main()
