"""Where the tests find MooseFS 4: scripts/moosefs4 (an installed prefix named by
MFSHA_MOOSEFS4, or the cached build of ../shared/moosefs/moosefs-4.*.tar.gz that
`make check` makes)."""
from __future__ import annotations

import functools
import os
import subprocess
import tarfile

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "scripts", "moosefs4")
NOT_AVAILABLE = 3  # the script's exit code when there is no MooseFS 4 to be had


@functools.lru_cache(maxsize=None)
def _lookup() -> tuple[int, str]:
    done = subprocess.run([SCRIPT, "--check"], capture_output=True, text=True, timeout=60)
    return done.returncode, (done.stdout.strip() if done.returncode == 0 else done.stderr.strip())


def installed_prefix() -> str:
    """The MooseFS 4 prefix; skips the test when there is none, fails when it is broken."""
    code, text = _lookup()
    if code == NOT_AVAILABLE:
        pytest.skip("MooseFS 4.x tests skipped: " + text)
    if code != 0:
        pytest.fail(text, pytrace=False)
    return text


SAMPLE_TARBALL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "..", "shared", "moosefs", "moosefs-4.59.2.tar.gz")


def sample_keys(name: str) -> list[str]:
    """Every `# KEY = VALUE` line of a 4.59.2 sample config, uncommented."""
    with tarfile.open(SAMPLE_TARBALL) as tar:
        text = tar.extractfile("moosefs-4.59.2/mfsdata/%s.cfg.in" % name).read().decode()
    return [line.lstrip("# ") for line in text.splitlines()
            if line.startswith("# ") and " = " in line and line[2:].split(" ")[0].isupper()]
