"""Each function's zip, as the deployer builds it, holds what its Lambda handler name needs: Lambda
imports `<module>` from the zip root alone and calls `<module>.handler`."""

import io
import subprocess
import sys
import zipfile

import pytest

from cloud.aws.packaging import handler_zip
from cloud.topology import TOPOLOGY

# Import from the zip alone (-E: no PYTHONPATH, -s: no user site; the repo is not on the path).
PROBE = "import {module} as m; assert callable(m.handler) and callable(m.handle) and callable(m.deployed)"


@pytest.mark.parametrize("key", sorted(TOPOLOGY["functions"]))
def test_the_zip_imports_alone_and_names_its_handler(key, tmp_path):
    spec = TOPOLOGY["functions"][key]
    with zipfile.ZipFile(io.BytesIO(handler_zip(spec["module"], spec.get("shared", ())))) as archive:
        archive.extractall(tmp_path)
    probe = PROBE.format(module=spec["module"])
    command = [sys.executable, "-E", "-s", "-c", probe]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
