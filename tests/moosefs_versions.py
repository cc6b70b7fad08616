"""Where the tests find MooseFS 4: scripts/moosefs4 (an installed prefix named by
MFSHA_MOOSEFS4, or the cached build of ../shared/moosefs/moosefs-4.*.tar.gz that
`make check` makes)."""
from __future__ import annotations

import functools
import os
import subprocess

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
