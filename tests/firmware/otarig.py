"""The over-the-air update tests' rig (test_otaboot.py, test_otaboot_littlefs.py): the signed vectors
(tests/vectors/ota_release.json), a flash with its base set, a release staged as the transport will
stage it, and a Board that boots as boot.py and main.py do."""

import json
import sys

import otaboot
import otastage
import otaverify


def vectors():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(here + "/../vectors/ota_release.json") as f:
        return json.load(f)


VECTORS = vectors()
MODULUS = int(VECTORS["modulus"], 16)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def flashed(root, version=None):
    """The base set `make flash` writes at the root; with version, as `make flash RELEASE=` writes it:
    its release's manifest there too (the manifest's head: the files are this stand-in)."""
    write(root + "/otaapp.py", b"SET = 'base'\n")
    if version is not None:
        head = "%s\nversion %s\ndowngrade 0\n" % (otaverify.HEADER, version)
        write(root + "/" + otaverify.MANIFEST, head.encode())


def stage_release(root, case="newer"):
    """What the transport will do: the release into the free slot, its manifest judged first."""
    directory = otastage.begin(root)
    release = VECTORS["releases"][case]
    write(directory + "/" + otaverify.MANIFEST, release["manifest"].encode())
    write(directory + "/" + otaverify.SIGNATURE, bytes.fromhex(release["signature"]))
    otaverify.check_manifest(directory, MODULUS, (1, 1, 0), (4096, 4096, 512, 400, 400))
    for name, text in VECTORS["files"].items():
        write(directory + "/" + name, text.encode())
    return directory


class Board:
    """Boots the flash at root as boot.py and main.py do: select, then import the chosen set."""

    def __init__(self, root):
        self.root = root
        self.watchdogs = []
        self.lines = []

    def start_watchdog(self, timeout):
        self.watchdogs.append(timeout)

    def boot(self):
        """One boot: (the set chosen, the SET its otaapp module names). self.path: the path it left."""
        path = ["", "/lib"]  # the board's: '' is the working directory, the flash root
        chosen = otaboot.select(self.root, path, self.start_watchdog, self.lines.append)
        self.path = path
        saved = sys.path[:]
        sys.path[:] = [self.root if entry == "" else entry for entry in path]
        try:
            sys.modules.pop("otaapp", None)
            return chosen, __import__("otaapp").SET
        finally:
            sys.path[:] = saved
            sys.modules.pop("otaapp", None)
