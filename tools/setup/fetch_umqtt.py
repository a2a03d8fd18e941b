"""Obtain umqtt.simple for the firmware without committing its code.

Order of preference:
1. `mip install` on the MicroPython interpreter, when the mip index is reachable
   (this gives the current release, 1.8 at the time of writing);
2. otherwise the sdist from the index pip is configured with, pinned by sha256.
   That release (1.3.4) imports `ussl`, which current MicroPython lacks, so a
   one-line compatibility module of our own is installed beside it.

The result lands in .deps/mpy-lib/, which is git-ignored and on the firmware's
import path in tests, the device runner and deploys.
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.path.join(ROOT, ".deps", "mpy-lib")
PROJECT = "micropython-umqtt-simple"
SDIST = "micropython-umqtt.simple-1.3.4.tar.gz"
SDIST_SHA256 = "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f"
MEMBER = "micropython-umqtt.simple-1.3.4/umqtt/simple.py"
USSL_SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ussl_shim.py")
MIP_TIMEOUT_S = 30


def installed():
    return os.path.exists(os.path.join(TARGET, "umqtt", "simple.py"))


def via_mip(micropython):
    try:
        proc = subprocess.run(
            [micropython, "-m", "mip", "install", "--target", TARGET, "umqtt.simple"],
            capture_output=True, text=True, timeout=MIP_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print("fetch_umqtt: mip unavailable (%s)" % exc)
        return False
    if proc.returncode == 0 and installed():
        print("fetch_umqtt: installed with mip")
        return True
    print("fetch_umqtt: mip index not reachable; using pip's index")
    return False


def pip_index_url():
    """The simple index pip uses: its configured index-url, else pip's default."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True, text=True,
    )
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip().rstrip("/")
    from pip._internal.models.index import PyPI

    return PyPI.simple_url.rstrip("/")


def http_get(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def via_pip_index():
    listing = json.loads(http_get(
        "%s/%s/" % (pip_index_url(), PROJECT), "application/vnd.pypi.simple.v1+json"))
    entry = next((f for f in listing["files"] if f["filename"] == SDIST), None)
    if entry is None:
        raise SystemExit("fetch_umqtt: %s is not on pip's index" % SDIST)
    blob = http_get(entry["url"])
    digest = hashlib.sha256(blob).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit("fetch_umqtt: sha256 mismatch for %s: got %s" % (SDIST, digest))
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        source = archive.extractfile(MEMBER).read()
    os.makedirs(os.path.join(TARGET, "umqtt"), exist_ok=True)
    with open(os.path.join(TARGET, "umqtt", "simple.py"), "wb") as out:
        out.write(source)
    # umqtt has no __init__ in the sdist either; MicroPython imports namespace dirs.
    shutil.copyfile(USSL_SHIM, os.path.join(TARGET, "ussl.py"))
    print("fetch_umqtt: installed %s (sha256 verified) with the ussl shim" % SDIST)


def main():
    if installed():
        return
    os.makedirs(TARGET, exist_ok=True)
    micropython = sys.argv[1] if len(sys.argv) > 1 else "micropython"
    if not via_mip(micropython):
        via_pip_index()


if __name__ == "__main__":
    main()
