"""The newcomer's mistakes on `make flash` / `make repl`: one actionable line each, and the board untouched.

Each case runs tools.board as `make` runs it, with every subprocess recorded: a failure must come
before esptool (erase, write) or mpremote (copy) is ever started. The port is a real pty (a serial
device as far as termios is concerned); a real board is not needed to fail early."""

import json
import os
import pty
import subprocess
import threading

import pytest

from tests.makerun import make, own_lines
from tools import board

ROOT = board.ROOT
EXAMPLE = os.path.join(ROOT, "firmware", "config.example.json")


@pytest.fixture
def serial_port():
    master, slave = pty.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


class BoardTools(list):
    """Every command tools.board runs; the board tools (esptool, mpremote) are recorded, not run:
    mpremote answers the version probe as a board with MicroPython 1.28.0. `on_run[tool]` (a list of
    functions of the command line) may answer instead: a CompletedProcess, or None for the default."""

    def __init__(self):
        super().__init__()
        self.on_run = {"esptool": [], "mpremote": []}


@pytest.fixture
def tools_started(monkeypatch):
    started = BoardTools()
    real_run = subprocess.run

    def run(command, *args, **kwargs):
        tool = os.path.basename(command[0])
        started.append(tool)
        if tool not in started.on_run:
            return real_run(command, *args, **kwargs)
        for answer in started.on_run[tool]:
            done = answer(command)
            if done is not None:
                return done
        probe = tool == "mpremote" and board.VERSION_PROBE in command
        return subprocess.CompletedProcess(command, 0, "micropython 1.28.0\n" if probe else "", "")

    monkeypatch.setattr(board.subprocess, "run", run)
    return started


def board_args(action, port, config, certs, image=None):
    """tools.board's command line as `make flash` builds it."""
    return [action, "--port", port, "--config", config, "--certs", certs] + (
        ["--image", image] if image else []
    )


def fails(capsys, argv):
    """Run tools.board; return its one stderr line (and check there is exactly one, no traceback)."""
    assert board.main(argv) == 1
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith("board: ")
    return line


def board_touched(started):
    return [tool for tool in started if tool in ("esptool", "mpremote")]


@pytest.fixture
def image(tmp_path):
    """Starts like an ESP image; only the recorded esptool ever sees it."""
    path = tmp_path / "micropython.bin"
    path.write_bytes(b"\xe9" + b"\0" * 64)
    return str(path)


def test_no_config_says_which_file_to_copy(capsys, tmp_path, serial_port, image, certs, tools_started):
    missing = str(tmp_path / "secrets" / "config.json")
    line = fails(capsys, board_args("flash", serial_port, missing, certs, image))
    assert line == (
        "board: no config at %s: copy firmware/config.example.json there (mkdir -p secrets; "
        "cp firmware/config.example.json secrets/config.json), fill in your Wi-Fi, or pass CONFIG=" % missing
    )
    assert board_touched(tools_started) == []


def test_placeholders_are_named_and_nothing_is_copied(capsys, serial_port, certs, tools_started):
    line = fails(capsys, board_args("deploy", serial_port, EXAMPLE, certs))
    assert (
        "still has placeholder values (wifi.ssid=your-ssid, wifi.password=set-on-the-board-only, "
        "mqtt.host=your-endpoint-ats.iot.eu-west-1.amazonaws.com)" in line
    )
    assert board_touched(tools_started) == []


def test_an_invalid_config_names_the_field_as_the_firmware_would(
    capsys, tmp_path, good_config, serial_port, certs, tools_started
):
    config = json.loads(open(good_config).read())
    config["servos"]["left"]["pin"] = 99
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    line = fails(capsys, board_args("deploy", serial_port, str(bad), certs))
    assert line == ("board: %s: servos.left.pin: expected a GPIO of 0-10, 20-21 (GPIO11-17 serve the flash, "
                    "18-19 the USB port)" % bad)
    (tmp_path / "broken.json").write_text("{nope")
    line = fails(capsys, board_args("deploy", serial_port, str(tmp_path / "broken.json"), certs))
    assert "broken.json is not valid JSON" in line
    assert board_touched(tools_started) == []


def test_no_board_bad_port_and_permission_denied(
    capsys, monkeypatch, tmp_path, good_config, certs, tools_started
):
    line = fails(capsys, board_args("deploy", "/dev/ttyACM9", good_config, certs))
    assert line.startswith(
        "board: no serial device at /dev/ttyACM9: plug the board in with a USB-C data cable"
    )
    not_serial = tmp_path / "notes.txt"
    not_serial.write_text("")
    line = fails(capsys, board_args("deploy", str(not_serial), good_config, certs))
    assert line == (
        "board: %s is not a serial port: pass the board's USB serial device, e.g. PORT=/dev/ttyACM0"
        % not_serial
    )
    line = fails(capsys, ["repl", "--port", "/dev/ttyACM9"])
    assert line.startswith("board: no serial device at /dev/ttyACM9")

    def denied(path, flags):  # what a user outside the dialout group gets (these tests may run as root)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(board.os, "open", denied)
    line = fails(capsys, board_args("deploy", str(not_serial), good_config, certs))
    assert line == (
        "board: permission denied on %s: add yourself to the dialout group "
        "(sudo usermod -aG dialout $USER, then log out and in)" % not_serial
    )
    assert board_touched(tools_started) == []


def test_a_missing_unreadable_foreign_or_unsupported_image_is_refused_before_any_erase(
    capsys, tmp_path, serial_port, good_config, certs, tools_started
):
    cases = [
        (
            str(tmp_path / "nope.bin"),
            "board: no image at IMAGE=%s: download ESP32_GENERIC_C3" % (tmp_path / "nope.bin"),
        ),
        (str(tmp_path), "board: cannot read IMAGE=%s (Is a directory); nothing was erased" % tmp_path),
        (EXAMPLE, "board: IMAGE=%s is not an ESP32 firmware image" % EXAMPLE),
    ]
    for image, message in cases:
        line = fails(capsys, board_args("flash", serial_port, good_config, certs, image))
        assert line.startswith(message), line
    line = fails(capsys, board_args("flash", serial_port, good_config, certs))
    assert line.startswith("board: flash needs IMAGE=")
    old = tmp_path / "ESP32_GENERIC_C3-20241129-v1.24.1.bin"
    old.write_bytes(b"\xe9" + bytes(4096) + b"MicroPython v1.24.1 on 2024-11-29; ESP32C3 module\0")
    line = fails(capsys, board_args("flash", serial_port, good_config, certs, str(old)))
    assert line == ("board: IMAGE=%s is MicroPython v1.24.1; the firmware supports MicroPython 1.27, 1.28, "
                    "1.29: download the ESP32_GENERIC_C3 image of one of them (hardware/README.md); nothing "
                    "was erased" % old)
    assert board_touched(tools_started) == []


def test_missing_certificates_say_where_they_come_from(
    capsys, tmp_path, serial_port, image, good_config, tools_started
):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = fails(capsys, board_args("flash", serial_port, good_config, str(empty), image))
    assert line == (
        "board: %s has neither ca.der nor ca.pem: run `make deploy` and pass CERTS=cloud/.out/<thing>, "
        "or put the CA, device certificate and key there" % empty
    )
    assert board_touched(tools_started) == []


def test_a_good_flash_compiles_before_it_erases_and_reports_progress(
    capsys, serial_port, image, good_config, certs, tools_started
):
    assert board.main(board_args("flash", serial_port, good_config, certs, image)) == 0
    out = capsys.readouterr().out
    assert tools_started.index("esptool") > tools_started.index("mpy-cross")
    assert board_touched(tools_started) == ["esptool", "esptool", "mpremote", "mpremote"]
    steps = [line.split(":")[1].split()[0] for line in out.splitlines() if line.startswith("board: ")]
    assert steps == ["compiling", "erasing", "writing", "MicroPython", "copying", "deployed"]


def test_after_the_reset_the_port_is_waited_for_and_a_failed_copy_says_copy_again(
    capsys, tmp_path, serial_port, image, good_config, certs, tools_started
):
    """Defect 11: esptool's reset makes the C3's USB serial port drop and come back while the first
    boot formats the filesystem. make flash waits for it (one line), and a copy that fails says to
    copy again, not to erase again."""
    port = str(tmp_path / "ttyACM0")  # a link to the pty, removed at the reset as the kernel removes the node
    os.symlink(serial_port, port)

    def reset_drops_the_port(command):
        if "write-flash" in command:
            os.remove(port)
            threading.Timer(1.5, os.symlink, (serial_port, port)).start()

    tools_started.on_run["esptool"].append(reset_drops_the_port)
    assert board.main(board_args("flash", port, good_config, certs, image)) == 0
    out = capsys.readouterr().out
    waiting = [line for line in out.splitlines() if line.startswith("board: waiting for")]
    assert len(waiting) == 1 and port in waiting[0]
    assert board_touched(tools_started)[-2:] == ["mpremote", "mpremote"]  # the version, then the copy

    def copy_fails(command):
        if "cp" in command:
            return subprocess.CompletedProcess(command, 1, "", "mpremote: could not enter raw repl\n")

    tools_started.on_run["mpremote"].append(copy_fails)
    line = fails(capsys, board_args("flash", port, good_config, certs, image))
    assert "copy again with make flash PORT=%s, without IMAGE" % port in line
    assert "erase" not in line.replace("no need to erase", "")


def test_a_port_that_never_comes_back_fails_in_bounded_time_and_says_copy_again(
    capsys, tmp_path, serial_port, image, good_config, certs, tools_started, monkeypatch
):
    port = str(tmp_path / "ttyACM0")
    os.symlink(serial_port, port)
    tools_started.on_run["esptool"].append(lambda argv: os.remove(port) if "write-flash" in argv else None)
    monkeypatch.setattr(board, "BOARD_RETURN_S", 1)
    line = fails(capsys, board_args("flash", port, good_config, certs, image))
    assert line.startswith("board: no answer from MicroPython on %s within 1 s (no serial device" % port)
    assert line.endswith("copy again with make flash PORT=%s, without IMAGE (MicroPython is on the board: "
                         "no need to erase)" % port)
    assert board_touched(tools_started) == ["esptool", "esptool"]  # erase, write; nothing copied


@pytest.mark.parametrize("answer", ["micropython 1.26.1", "micropython 1.30.0", "circuitpython 9.2.1"])
def test_an_unsupported_micropython_is_refused_before_the_copy(
    capsys, serial_port, good_config, certs, tools_started, answer
):
    def probe(command):
        if board.VERSION_PROBE in command:
            return subprocess.CompletedProcess(command, 0, answer + "\n", "")

    tools_started.on_run["mpremote"].append(probe)
    line = fails(capsys, board_args("deploy", serial_port, good_config, certs))
    assert line == ("board: the board runs %s; the firmware supports MicroPython 1.27, 1.28, 1.29: flash the "
                    "ESP32_GENERIC_C3 image of one of them (hardware/README.md) with make flash IMAGE=<.bin>"
                    % answer)
    assert board_touched(tools_started) == ["mpremote"]  # the probe only


def test_make_flash_and_repl_print_one_line_and_no_traceback(tmp_path):
    for variables, message in [
        (["flash", "PORT=/dev/ttyACM9"], "board: no serial device at /dev/ttyACM9"),
        (["repl", "PORT=/dev/ttyACM9"], "board: no serial device at /dev/ttyACM9"),
        (["flash", "PORT=/dev/tty", "IMAGE=%s" % (tmp_path / "x.bin")], "board: "),
    ]:
        done = make(*variables, timeout=120)
        assert done.returncode != 0
        lines = own_lines(done.stderr)
        assert len(lines) == 1 and lines[0].startswith(message), done.stderr
        assert "Traceback" not in done.stderr + done.stdout


@pytest.fixture
def hub_pki(tmp_path, monkeypatch):
    from cloud import household
    from cloud.hub.pki import Pki

    # The household these boards are flashed for (the default file, HOUSEHOLD= unset) names the PKI's thing.
    named = tmp_path / "household-of-the-pki.json"
    named.write_text(json.dumps({"things": [{"thing": "kitchen-feeder"}]}))
    monkeypatch.setattr(household, "PATH", str(named))
    hub_hosts = ("feeder-hub.lan", "192.168.1.20", "fd00::20")  # make hub HUB_ARGS="--host-name ..."
    return Pki(str(tmp_path / "pki"), "kitchen-feeder", key_type="ec", broker_hosts=hub_hosts).ensure()


def test_a_board_for_the_hub_gets_its_host_port_thing_and_pki(
        capsys, serial_port, good_config, hub_pki, tools_started):
    argv = ["deploy", "--port", serial_port, "--config", good_config, "--certs", hub_pki.dir,
            "--hub", "feeder-hub.lan"]
    assert board.main(argv) == 0
    with open(os.path.join(board.STAGE, "config.json")) as f:
        staged = json.load(f)
    assert (staged["thing"], staged["mqtt"]["host"], staged["mqtt"]["port"]) == (
        "kitchen-feeder", "feeder-hub.lan", 8883)
    # The config's topics were cat-feeder's; the board gets its own thing's.
    assert (staged["mqtt"]["action_topic"], staged["mqtt"]["states_topic"]) == (
        "cat-feeder/kitchen-feeder/action", "cat-feeder/kitchen-feeder/states")
    with open(os.path.join(board.STAGE, "certs", "device.key.der"), "rb") as f:
        assert f.read() == open(hub_pki.path("device.key.der"), "rb").read()
    assert board_touched(tools_started) == ["mpremote", "mpremote"]


def test_a_hub_host_its_certificate_does_not_name_is_refused_before_the_board_is_touched(
        capsys, serial_port, good_config, hub_pki, tools_started):
    argv = ["deploy", "--port", serial_port, "--config", good_config, "--certs", hub_pki.dir,
            "--hub", "other-host.lan:8884"]
    line = fails(capsys, argv)
    assert line == (
        "board: the hub's broker certificate (%s) does not name other-host.lan, so the board could not "
        'verify the hub: run make hub HUB_ARGS="--host-name other-host.lan" once (it reissues it)'
        % hub_pki.cert("broker"))
    assert board_touched(tools_started) == []
    bad_port = fails(capsys, argv[:-1] + ["feeder-hub.lan:port"])
    assert bad_port.startswith("board: HUB=feeder-hub.lan:port: expected")


@pytest.mark.parametrize("hub, host", [
    ("192.168.1.20", "192.168.1.20"),       # a household without local DNS: the README's --host-name IP
    ("127.0.0.1:8884", "127.0.0.1"),        # every broker certificate names 127.0.0.1
    ("Feeder-Hub.lan", "Feeder-Hub.lan"),   # DNS names compare without case
    ("localhost", "localhost"),
])
def test_a_hub_named_by_ip_or_by_host_name_in_its_certificate_is_provisioned(
        capsys, serial_port, good_config, hub_pki, tools_started, hub, host):
    argv = ["deploy", "--port", serial_port, "--config", good_config, "--certs", hub_pki.dir, "--hub", hub]
    assert board.main(argv) == 0, capsys.readouterr().err
    with open(os.path.join(board.STAGE, "config.json")) as f:
        assert json.load(f)["mqtt"]["host"] == host
    assert board_touched(tools_started) == ["mpremote", "mpremote"]  # the version probe, the copy


def test_an_ip_the_certificate_does_not_name_is_refused(
        capsys, serial_port, good_config, hub_pki, tools_started):
    argv = ["deploy", "--port", serial_port, "--config", good_config, "--certs", hub_pki.dir,
            "--hub", "192.168.1.21"]
    assert fails(capsys, argv).startswith(
        "board: the hub's broker certificate (%s) does not name 192.168.1.21" % hub_pki.cert("broker"))
    assert board_touched(tools_started) == []


def test_placeholders_on_a_hub_flash_give_no_aws_hint(capsys, serial_port, hub_pki, tools_started):
    line = fails(capsys, ["deploy", "--port", serial_port, "--config", EXAMPLE, "--certs", hub_pki.dir,
                          "--hub", "feeder-hub.lan"])
    assert line == ("board: %s still has placeholder values (wifi.ssid=your-ssid, "
                    "wifi.password=set-on-the-board-only): put in your own" % EXAMPLE)
    assert board_touched(tools_started) == []


@pytest.fixture
def household_file(tmp_path):
    path = tmp_path / "household.json"
    path.write_text(json.dumps({"things": [
        {"thing": "kitchen-feeder", "name": "Kitchen",
         "caps": {"max_portions_per_hour": 2, "max_portions_per_day": 6}},
        {"thing": "hall-button", "name": "Hall", "role": "button", "feeds": "kitchen-feeder"},
    ]}))
    return str(path)


def staged_config():
    with open(os.path.join(board.STAGE, "config.json")) as f:
        return json.load(f)


def test_a_thing_the_household_file_does_not_name_is_refused_before_the_board_is_touched(
        capsys, serial_port, good_config, hub_pki, household_file, tools_started):
    line = fails(capsys, ["deploy", "--port", serial_port, "--config", good_config, "--certs", hub_pki.dir,
                          "--hub", "feeder-hub.lan", "--thing", "attic", "--household", household_file])
    assert line == "board: thing: 'attic' is not in the household file (it names kitchen-feeder, hall-button)"
    assert board_touched(tools_started) == []


def test_make_flash_refuses_a_thing_of_no_household_in_one_line(tmp_path):
    # No household file: the household is the single feeder cat-feeder (cloud/household.py).
    done = make("flash", "PORT=/dev/ttyACM9", "THING=hall-button", "HOUSEHOLD=%s" % (tmp_path / "none.json"),
                timeout=120)
    assert done.returncode != 0
    assert own_lines(done.stderr) == [
        "board: thing: 'hall-button' is not in the household file (it names cat-feeder)"], done.stderr


def test_a_board_flashed_by_name_gets_its_own_certificate_topics_role_and_caps(
        capsys, serial_port, good_config, hub_pki, household_file, tools_started):
    hub = ["--certs", hub_pki.dir, "--hub", "feeder-hub.lan", "--household", household_file]
    assert board.main(["deploy", "--port", serial_port, "--config", good_config, *hub,
                       "--thing", "hall-button"]) == 0, capsys.readouterr().err
    button = staged_config()
    assert (button["thing"], button["role"], button["mqtt"]["action_topic"]) == (
        "hall-button", "button", "cat-feeder/hall-button/action")
    with open(os.path.join(board.STAGE, "certs", "device.crt.der"), "rb") as f:
        # The hall button's own certificate from the hub's CA (its CN is the thing the ACL grants).
        assert f.read() == open(hub_pki.path(hub_pki.device("hall-button") + ".crt.der"), "rb").read()
    assert board.main(["deploy", "--port", serial_port, "--config", good_config, *hub,
                       "--thing", "kitchen-feeder"]) == 0, capsys.readouterr().err
    feeder = staged_config()
    assert (feeder["thing"], feeder["role"], feeder["feeding"]) == (
        "kitchen-feeder", "feeder", {"max_portions_per_hour": 2, "max_portions_per_day": 6})
    with open(os.path.join(board.STAGE, "certs", "device.key.der"), "rb") as f:
        assert f.read() == open(hub_pki.path("device.key.der"), "rb").read()  # the PKI's own thing


def test_a_hub_board_without_thing_whose_household_does_not_name_it_is_refused(
        capsys, serial_port, good_config, hub_pki, tmp_path, tools_started):
    """README step 5 after "Several feeders": `make flash HUB=...` without THING= flashes the PKI's own
    thing; the hub's ACL grants a thing the household does not name nothing, so it is one line, not a
    board that connects and is ignored."""
    path = tmp_path / "kitchen.json"
    path.write_text(json.dumps({"things": [{"thing": "kitchen"}, {"thing": "bedroom"}]}))
    line = fails(capsys, ["deploy", "--port", serial_port, "--config", good_config, "--certs", hub_pki.dir,
                          "--hub", "feeder-hub.lan", "--household", str(path)])
    assert line == ("board: thing: 'kitchen-feeder' is not in the household file (it names kitchen, "
                    "bedroom): pass THING=")
    assert board_touched(tools_started) == []
