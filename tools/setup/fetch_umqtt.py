"""Obtain the peer clients for bench/peers.py without committing their code: umqtt.robust 1.0 with
umqtt.simple 1.3.4 beside it -> .deps/peers/umqtt/, and a one-line `ussl` module of our own
(ussl_shim.py), because umqtt.simple 1.3.4 imports `ussl` for TLS, which current MicroPython names
`ssl`. The peers are optional: without them the benchmark says so. The firmware itself uses no MQTT
library (firmware/connect.py).

One pinned version on every machine: each library is the sdist from the index pip is configured
with, checked against its sha256. (mip would serve whatever release is current, so two machines
could run different umqtt code.) .deps/peers is git-ignored and only on bench/peers.py's path.
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
DEPS = os.path.join(ROOT, ".deps")
PEERS = os.path.join(DEPS, "peers")
USSL_SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ussl_shim.py")
# project, sdist, sha256, {member: path under .deps}
SIMPLE = ("micropython-umqtt-simple", "micropython-umqtt.simple-1.3.4.tar.gz",
          "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f",
          {"micropython-umqtt.simple-1.3.4/umqtt/simple.py": ("peers/umqtt/simple.py",)})
ROBUST = ("micropython-umqtt-robust", "micropython-umqtt.robust-1.0.tar.gz",
          "22a1b8c8e1128281efb13b3020927d07e33c5b747869da2cd77d37983a9ea002",
          {"micropython-umqtt.robust-1.0/umqtt/robust.py": ("peers/umqtt/robust.py",)})
# Written last: its content names what is installed, so a pin change installs again.
STAMP = os.path.join(DEPS, "installed.txt")


def stamp():
    return "%s\n%s\n" % (SIMPLE[1], ROBUST[1])


def installed():
    try:
        with open(STAMP) as f:
            return f.read() == stamp()
    except OSError:
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


def fetch(project, sdist, sha256, members):
    index = "%s/%s/" % (pip_index_url(), project)
    listing = json.loads(http_get(index, "application/vnd.pypi.simple.v1+json"))
    entry = next((f for f in listing["files"] if f["filename"] == sdist), None)
    if entry is None:
        raise SystemExit("fetch_umqtt: %s is not on pip's index" % sdist)
    blob = http_get(entry["url"])
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sha256:
        raise SystemExit("fetch_umqtt: sha256 mismatch for %s: got %s" % (sdist, digest))
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        for member, targets in members.items():
            source = archive.extractfile(member).read()
            for target in targets:  # umqtt has no __init__ in the sdists; MicroPython imports namespace dirs
                path = os.path.join(DEPS, target)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as out:
                    out.write(source)
    print("fetch_umqtt: installed %s (sha256 verified)" % sdist)


def main():
    if installed():
        return
    shutil.rmtree(PEERS, ignore_errors=True)  # nothing of another version stays behind
    try:
        fetch(*SIMPLE)
        fetch(*ROBUST)
        shutil.copyfile(USSL_SHIM, os.path.join(PEERS, "ussl.py"))
    except (OSError, SystemExit) as exc:
        print("fetch_umqtt: the peer clients not obtained (%s); bench/peers.py will say so" % exc)
    with open(STAMP, "w") as f:
        f.write(stamp())


if __name__ == "__main__":
    main()
