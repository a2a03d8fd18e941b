"""Staging a release into the free update slot (otaboot.py) and handing it to the boot selector
(firmware/README.md, "Over-the-air updates"). The transport (otafetch.py) writes the manifest and
signature, has otaverify.check_manifest judge them, fetches the files, then calls `finish`.
"""

import os

import otaboot
import otaverify


def begin(root):
    """The emptied directory of the free slot, to write the release into; Refused while another
    update is on trial. The slot is one no boot uses, so nothing here can cost a bootable set."""
    slot = otaboot.staging_slot(root)
    if slot is None:
        raise otaverify.Refused("an update is on trial: one at a time")
    directory = otaboot.slot_dir(root, slot)
    for path in (root + "/ota", directory):
        try:
            os.mkdir(path)
        except OSError:
            pass  # exists
    for name in os.listdir(directory):  # a flat set: files only (otaverify's names)
        os.remove(directory + "/" + name)
    return directory


def finish(root, modulus):
    """Check the staged release's signature again (what the files are checked against) and every
    file (otaverify.check_files), Refused on any; then make it the next boot's trial. Returns the
    slot. Its version and size were judged by otaverify.check_manifest before the files came."""
    slot = otaboot.staging_slot(root)
    if slot is None:
        raise otaverify.Refused("an update is on trial: one at a time")
    directory = otaboot.slot_dir(root, slot)
    buf = bytearray(otaverify.CHUNK)
    otaverify.check_signature(directory, modulus, buf)
    otaverify.check_files(directory, buf)
    otaboot.schedule(root, slot)
    return slot
