"""Running `make` targets as a newcomer does, for the tests of the board and cloud workflows."""

import os
import re
import subprocess

MAKE_ERROR = re.compile(r"make(\[\d+\])?: \*\*\* ")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make(*arguments, env=None, timeout=300):
    """`make -s <arguments>` in the repo; the CompletedProcess (text)."""
    return subprocess.run(
        ["make", "-s", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def own_lines(stderr):
    """stderr without make's own "make: *** [...] Error 1" line ("make[1]: ***" under another make)."""
    return [line for line in stderr.splitlines() if not MAKE_ERROR.match(line)]


def without_aws_credentials(home):
    """An environment with no AWS credentials anywhere (and no instance metadata to wait for)."""
    none = str(home / "none")
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": none,
        "AWS_SHARED_CREDENTIALS_FILE": none,
    }
