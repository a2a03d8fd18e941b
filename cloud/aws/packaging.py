"""Lambda packages: one handler module per zip (plus the repo files it shares with the firmware),
built byte-for-byte reproducibly so an unchanged handler has an unchanged CodeSha256 and a second
deploy uploads nothing."""

import base64
import hashlib
import io
import zipfile
from pathlib import Path

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
ROOT = HANDLERS_DIR.parent.parent
# Fixed timestamp and mode: the zip depends on the source bytes only.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def handler_zip(module, shared=()):
    """Zip handlers/<module>.py as <module>.py at the archive root (Lambda handler "<module>.handler"),
    and each repo-relative path in shared at that same path (firmware/press.py imports as firmware.press)."""
    files = [(module + ".py", HANDLERS_DIR / (module + ".py"))] + [(path, ROOT / path) for path in shared]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes())
    return buffer.getvalue()


def code_sha256(package):
    """The digest Lambda reports as CodeSha256."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()
