"""Write tests/vectors/ota_release.json: signed manifests for the board's release checks
(tests/firmware/test_otaverify.py), which MicroPython cannot sign itself.

    .venv/bin/python -m tests.vectors.make_ota_release

Signed by a throwaway release key (tools/release_key.py) in a temporary folder, deleted at once: the
vector holds only its modulus, and no private key is ever committed. The files are ASCII text of
700 and 1500 bytes (a short last chunk and several whole ones for otaverify.CHUNK = 512).
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
PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ota_release.json")


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
    with open(PATH, "w") as handle:
        json.dump({"running": "1.1.0", "modulus": modulus, "files": FILES, "releases": releases}, handle,
                  indent=1, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main()
