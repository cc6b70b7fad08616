"""Binaries and subprocesses for agents: have_binary, and deadlines from the action timeout."""
from __future__ import annotations

import os

from procrun import STARTED_AT, Deadline, Result, find_binary, run  # noqa: F401 (re-exported)


def have_binary(name: str, environ: dict[str, str] | None = None) -> bool:
    """Is `name` an executable (absolute, or found on PATH)?

    Honours OCF_TESTER_FAIL_HAVE_BINARY, by which ocf-tester checks that a probe
    still answers sensibly on a node where nothing is installed.
    """
    environ = environ if environ is not None else os.environ
    if environ.get("OCF_TESTER_FAIL_HAVE_BINARY", "") not in ("", "0"):
        return False
    return find_binary(name, environ) is not None
