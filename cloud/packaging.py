"""Lambda packages: one handler module per zip, built byte-for-byte reproducibly so an unchanged
handler has an unchanged CodeSha256 and a second deploy uploads nothing."""

import base64
import hashlib
import io
import zipfile
from pathlib import Path

HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
# Fixed timestamp and mode: the zip depends on the source bytes only.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def handler_zip(module):
    """Zip handlers/<module>.py as <module>.py at the archive root (Lambda handler "<module>.handler")."""
    info = zipfile.ZipInfo(module + ".py", date_time=ZIP_DATE)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, (HANDLERS_DIR / (module + ".py")).read_bytes())
    return buffer.getvalue()


def code_sha256(package):
    """The digest Lambda reports as CodeSha256."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()
