"""Hardware-in-the-loop: deploy the firmware over a serial port and check it on the device.

By default the device is tools.sim_board (MicroPython's unix port behind a pty), so this
runs everywhere; set BOARD_PORT=/dev/ttyACM0 to run the same checks on a real XIAO ESP32C3
(fixtures in conftest.py).
"""

import json
import os
import shutil
import ssl
import subprocess
import sys
import time

import pytest

from tools import board, release, release_key

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")


@pytest.fixture
def config(tmp_path):
    """config.example.json as a user fills it in; no Wi-Fi section on the simulated board (no radio)."""
    with open(os.path.join(board.FIRMWARE, "config.example.json")) as handle:
        filled = json.load(handle)
    if os.environ.get("BOARD_PORT"):
        filled["wifi"].update(ssid=os.environ["WIFI_SSID"], password=os.environ.get("WIFI_PASSWORD", ""))
    else:
        del filled["wifi"]
    filled["mqtt"]["host"] = "localhost"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(filled))
    return str(path)


def on_device(port, code):
    for _ in range(3):  # the port may still be settling after the deploy's reset
        result = subprocess.run([MPREMOTE, "connect", port, "exec", code],
                                capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return result.stdout
        time.sleep(1)
    raise AssertionError(result.stderr)


def test_deploy_puts_compiled_firmware_config_and_der_certs_on_the_device(port, certs, config, capsys):
    board.deploy(port, config, certs)
    out = capsys.readouterr().out
    progress = [line.split()[1] for line in out.splitlines() if line.startswith("board: ")]
    assert progress == ["compiling", "MicroPython", "copying", "deployed"]

    listing = on_device(port, "import os; print(sorted(os.listdir()), sorted(os.listdir('certs')))")
    assert "config.json" in listing
    assert "['ca.der', 'device.crt.der', 'device.key.der']" in listing
    modules = [name[:-3] for name in os.listdir(board.FIRMWARE) if name.endswith(".py")]
    not_deployed = ("main", "boot", "manifest")  # entry points go as source; manifest is build input
    assert [name for name in modules if name not in not_deployed and name + ".mpy" not in listing] == []

    # The compiled modules, the MQTT connect among them, import from the device's own flash.
    loaded = on_device(port, "import config, json, connect; "
                             "print(json.load(open('config.json'))['thing'], connect.CONNACK_CODES[0])")
    assert loaded.split() == ["cat-feeder", "accepted"]
    # The board's import order (py/runtime.c, ports/esp32/main.c): the filesystem, the frozen modules
    # (where stock images keep umqtt), then lib; the simulated board has a stand-in folder between.
    path = on_device(port, "import sys; print(' '.join(repr(p) for p in sys.path))").split()
    assert path[:2] == ["''", "'.frozen'"] and path[-1] in ("'/lib'", "'lib'"), path
    key = on_device(port, "print(len(open('certs/device.key.der','rb').read()))")
    assert int(key) > 64


def test_deploy_refuses_a_micropython_release_the_firmware_does_not_support(port, certs, config, capsys,
                                                                           monkeypatch):
    """The board's own answer comes from sys.implementation (1.29 on the simulated board, accepted by
    the test above); an unsupported one is stood in for by the probe's answer, over the same serial
    path: one line naming the releases that work, and nothing copied."""
    monkeypatch.setattr(board, "VERSION_PROBE", "print('micropython', '1.24.1')")
    assert board.main(["deploy", "--port", port, "--config", config, "--certs", certs]) == 1
    captured = capsys.readouterr()
    assert captured.err == ("board: the board runs micropython 1.24.1; the firmware supports MicroPython %s: "
                            "flash the ESP32_GENERIC_C3 image of one of them (hardware/README.md) with "
                            "make flash IMAGE=<.bin>\n" % ", ".join(board.SUPPORTED_MICROPYTHON))
    assert "board: copying" not in captured.out


def test_deploy_provisions_from_the_cloud_deployers_folder(port, certs, config):
    """device.json from cloud/.out/<thing>/ sets thing and endpoint; the Amazon root CA comes
    from the system store when the folder has none."""
    os.remove(os.path.join(certs, "ca.pem"))
    with open(os.path.join(certs, "device.json"), "w") as handle:
        json.dump({"thing": "kitchen-feeder", "endpoint": "abc123-ats.iot.eu-west-1.amazonaws.com",
                   "port": 8883, "root_ca": {"name": "AmazonRootCA1"}}, handle)
    board.deploy(port, config, certs)

    endpoint = "abc123-ats.iot.eu-west-1.amazonaws.com"
    staged = on_device(port, "import config; from hal_sim import HAL; "
                             "c = config.load('config.json', HAL.PINS); m = c['mqtt']; "
                             "print(c['thing'], m['host'], m['ca'], len(open(m['ca'], 'rb').read()))")
    thing, host, ca_path, ca_len = staged.split()
    assert (thing, host, ca_path) == ("kitchen-feeder", endpoint, "certs/ca.der")
    with open("/etc/ssl/certs/Amazon_Root_CA_1.pem") as handle:
        assert int(ca_len) == len(ssl.PEM_cert_to_DER_cert(handle.read()))


def resigned(release_dir, version, out, key_dir):
    """A copy of a built release with another version, signed by the same key (building each anew would
    compile the firmware again)."""
    target = os.path.join(out, version)
    shutil.copytree(release_dir, target)
    path = os.path.join(target, board.MANIFEST)
    with open(path) as handle:
        lines = handle.read().splitlines(keepends=True)
    lines[1] = "version %s\n" % version
    manifest = "".join(lines).encode()
    with open(path, "wb") as handle:
        handle.write(manifest)
    with open(os.path.join(target, board.SIGNATURE), "wb") as handle:
        handle.write(release_key.sign(release_key.load(key_dir), manifest))
    return target


def flash_files(flash):
    """{path: bytes} of everything on the simulated board's flash."""
    found = {}
    for dirpath, _, names in os.walk(flash):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as handle:
                found[os.path.relpath(os.path.join(dirpath, name), flash)] = handle.read()
    return found


# The board's own code, from its flash, judges the releases offered next (folders of the host, which the
# simulated board reads), and names its firmware in telemetry.
JUDGE_OFFERS = """import json, os, otaboot, otaverify, reports
modulus = int(json.load(open('config.json'))['ota']['release_key'], 16)
running = otaboot.running_version('.')
print(otaverify.version_text(running))
for offer in %r:
    try:
        otaverify.check_manifest(offer, modulus, running, os.statvfs(offer))
        print('accepted')
    except otaverify.Refused as refused:
        print(refused)
class Link:
    connect_failures = 0
    last_error = None
class Cap:
    portions_hour = portions_day = (0, 0)
    per_hour = per_day = 4
print(reports.telemetry_message('t', 0, 0, 0, 0, 0, Link, Cap))
"""


def test_a_board_flashed_from_a_release_takes_only_newer_ones_and_a_tampered_one_is_never_flashed(
        sim_board, certs, config, tmp_path, monkeypatch, capsys):
    port, flash = sim_board
    keys, out = str(tmp_path / "key"), str(tmp_path / "release")
    monkeypatch.setattr(board, "RELEASE_DIR", keys)  # the household's key: provisioned, and the check's
    monkeypatch.setattr(board, "RELEASES", out)
    built = release.build("1.5.0", out=out, key_dir=keys, log=lambda line: None)
    offers = [resigned(built, version, str(tmp_path / "offers"), keys)
              for version in ("1.4.0", "1.5.0", "1.6.0")]

    # A release whose file was changed after signing, or whose manifest was: refused, the board untouched.
    untouched = flash_files(flash)
    tampered = resigned(built, "1.5.1", out, keys)
    with open(os.path.join(tampered, "feeder.mpy"), "ab") as handle:
        handle.write(b"\0")
    forged = resigned(built, "1.5.2", out, keys)
    with open(os.path.join(forged, board.MANIFEST), "a") as handle:
        handle.write("file 1 %s extra.mpy\n" % ("0" * 64))
    deploy = ["deploy", "--port", port, "--config", config, "--certs", certs, "--release"]
    for version, reason in (("1.5.1", "hash mismatch: feeder.mpy"), ("1.5.2", "bad signature"),
                            ("9.9.9", None)):
        assert board.main(deploy + [version]) == 1
        err = capsys.readouterr().err
        shown = os.path.relpath(os.path.join(out, version), board.ROOT)
        if reason:
            assert err == "board: the release in %s is refused: %s; nothing was flashed\n" % (shown, reason)
        else:
            assert err == "board: no release in %s: make release VERSION=%s first\n" % (shown, version)
    assert flash_files(flash) == untouched

    assert board.main(deploy + ["1.5.0"]) == 0
    progress = [line for line in capsys.readouterr().out.splitlines() if line.startswith("board: ")]
    assert progress[0].startswith("board: release 1.5.0 verified (")
    on_flash = flash_files(flash)
    for name in os.listdir(built):  # the release's files as signed, its manifest at the root
        with open(os.path.join(built, name), "rb") as handle:
            assert on_flash[name] == handle.read(), name
    lines = on_device(port, JUDGE_OFFERS % offers).splitlines()
    assert lines[:4] == ["1.5.0", "not newer: 1.4.0, running 1.5.0 (a downgrade must be signed as one)",
                         "not newer: 1.5.0, running 1.5.0 (a downgrade must be signed as one)", "accepted"]
    assert '"firmware": "1.5.0"' in lines[4]

    # The working tree flashed over it: a development board again, which takes any signed release.
    board.deploy(port, config, certs)
    assert "development firmware, version 0.0.0" in capsys.readouterr().out
    assert board.MANIFEST not in flash_files(flash)
    lines = on_device(port, JUDGE_OFFERS % offers[:1]).splitlines()
    assert lines[:2] == ["0.0.0", "accepted"] and '"firmware": null' in lines[2]
