"""The device's credentials as the deployer leaves them in `<out>/<thing>/` (git-ignored).

AWS returns a certificate's private key once, in the CreateKeysAndCertificate response, so the files
are written atomically (temporary file, fsync, rename; the key with mode 0600) and device.json last:
its certificate id says which certificate the key here belongs to.
"""

import contextlib
import json
import os
import tempfile

from cloud.topology import AMAZON_ROOT_CA

CERTIFICATE, KEY, DEVICE = "device.crt.pem", "device.key.pem", "device.json"
MQTT_PORT = 8883


def write_atomically(path, text, mode):
    """Replace path with text in one step: a crash or a full disk leaves the old file or the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


class DeviceFolder:
    def __init__(self, out_dir, thing):
        self.thing, self.path = thing, out_dir / thing

    def write(self, issued, endpoint):
        """Store a CreateKeysAndCertificate response: key first, device.json (the marker) last."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / DEVICE).unlink(missing_ok=True)  # no marker while the key and the id may disagree
        write_atomically(self.path / KEY, issued["keyPair"]["PrivateKey"], 0o600)
        write_atomically(self.path / CERTIFICATE, issued["certificatePem"], 0o644)
        device = {
            "thing": self.thing,
            "certificate_id": issued["certificateId"],
            "endpoint": endpoint,
            "port": MQTT_PORT,
            "certificate": CERTIFICATE,
            "key": KEY,
            "root_ca": AMAZON_ROOT_CA,
        }
        write_atomically(self.path / DEVICE, json.dumps(device, indent=2) + "\n", 0o644)

    def certificate_id(self):
        """The id of the certificate whose private key is here, or None."""
        try:
            device = json.loads((self.path / DEVICE).read_text())
        except (OSError, ValueError):
            return None
        return device.get("certificate_id") if (self.path / KEY).is_file() else None

    def remove(self):
        for written in (KEY, CERTIFICATE, DEVICE):
            (self.path / written).unlink(missing_ok=True)
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()
