"""An update's download through the hub, interrupted (docs/protocol.md, "Updates over the air"): a command
sent while the download is stalled is answered within the loop's normal poll, and after the connection
is cut the download goes on by Range from the bytes on flash. The same stack as test_device_ota_hub.py,
with tools/faultproxy.py between the device and the hub's HTTPS server, pacing it like a slow link."""

import os
import time

from cloud.hub import jobs
from cloud.topology import THING
from rigs.device import ACTION, BootingDevice, Observer, command, rig_config, wait_for
from rigs.ota import VERSION, build_release, start_hub
from tools import release, release_key
from tools.faultproxy import FaultProxy
from tools.mqttc import MqttClient

LARGE = "large.bin"


def with_a_large_file(releases, keys, size=48 * 1024):
    """The release with one more file of `size` bytes (an asset; nothing imports it), signed again: a
    file long enough that the test sees it partly on flash and interrupts it there."""
    target = os.path.join(releases, VERSION)
    with open(os.path.join(target, LARGE), "wb") as f:
        f.write(os.urandom(size))
    os.remove(os.path.join(target, release.MANIFEST))
    os.remove(os.path.join(target, release.SIGNATURE))
    manifest = release.manifest_text(VERSION, False, target).encode()
    with open(os.path.join(target, release.MANIFEST), "wb") as f:
        f.write(manifest)
    with open(os.path.join(target, release.SIGNATURE), "wb") as f:
        f.write(release_key.sign(release_key.load(keys), manifest))


def partly_there(flash):
    """True when the large file is on the device's flash, its first bytes only."""
    path = os.path.join(flash, "ota", "a", LARGE)
    return os.path.exists(path) and 0 < os.path.getsize(path) < 16 * 1024


def test_a_command_mid_download_is_answered_and_the_download_resumes_after_an_interruption(
        tmp_path, pki, broker):
    keys = str(tmp_path / "keys")
    releases, modulus = build_release(str(tmp_path / "release"), keys)
    with_a_large_file(releases, keys)
    ota_hub = start_hub(str(tmp_path / "hub"), pki, broker.port)
    device = BootingDevice(tmp_path / "flash", pki, rig_config(broker.port, ota={"release_key": modulus}))
    device.start()
    observer = Observer(pki, broker.port)
    proxy = FaultProxy(ota_hub.https_port).start()
    proxy.pace(1024, 0.01)  # ~100 KB/s: the large file takes about half a second
    try:
        device.wait_up()
        job = jobs.offer(ota_hub.data_dir, THING, VERSION, releases, "localhost", proxy.port)
        device.expect("ota: %s: downloading" % job["jobId"])
        wait_for(lambda: partly_there(device.flash), 10, "the large file partly on flash")
        proxy.stall()  # mid-file: the device's stream goes silent
        sent = time.monotonic()
        with_ota = device.proc  # the same life: no restart in between
        publisher = MqttClient(pki, broker.port, "publisher")
        publisher.publish(ACTION, command("mid-download-1"), qos=1)
        observer.collect(["mid-download-1"], 10)
        answered_s = time.monotonic() - sent
        assert [r["status"] for r in observer.by_id()["mid-download-1"]] == ["dispensed"]
        # The loop's longest poll (app.MAX_WAIT_MS): a download step blocks at most otafetch.TIMEOUT_MS.
        assert answered_s < 5
        assert not any("staged" in line for line in device.output())
        proxy.cut()  # the stalled connection is reset: the device resumes with Range from the bytes on flash
        proxy.resume()
        proxy.pace()
        staged = device.expect("ota: %s: staged" % job["jobId"], timeout_s=20)
        assert not staged.endswith("(0 resumed)"), device.output()[-30:]  # Range from the bytes on flash
        assert device.proc is with_ota
        publisher.close()
    finally:
        proxy.stop()
        observer.close()
        device.kill()
        ota_hub.stop()
