"""Which MooseFS generation is installed, and so how metadata is restored.

  1.6       a real `mfsmetarestore -a -d DIR`
  1.7, 2.x  `mfsmaster -a` (one step; this package follows it with a clean stop)
  3.x, 4.x  `mfsmaster -a restore`: offline, then a normal start
On 1.7 and newer `mfsmetarestore` is a stub that prints a notice and exits 0 without
restoring anything: it is recognised and never trusted.
"""
from __future__ import annotations

import re

from procrun import run

_VERSION = re.compile(r"version:?\s*(\d+)\.(\d+)\.(\d+)")
_STUB_WORDS = ("has been removed", "use mfsmaster -a")

METARESTORE = "mfsmetarestore"       # 1.6
MASTER_AUTO_START = "mfsmaster-a"    # 1.7 and 2.x
MASTER_RESTORE = "mfsmaster-restore"  # 3.x and newer


class GenerationError(Exception):
    pass


class Generation:
    def __init__(self, version: tuple[int, int, int], method: str) -> None:
        self.version = version
        self.method = method

    @property
    def text(self) -> str:
        return "%d.%d.%d" % self.version

    def __repr__(self) -> str:
        return "Generation(%s, %s)" % (self.text, self.method)


def method_for(version: tuple[int, int, int]) -> str:
    if version[:2] <= (1, 6):
        return METARESTORE
    if version[0] < 3:
        return MASTER_AUTO_START
    return MASTER_RESTORE


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def is_metarestore_stub(output: str) -> bool:
    lowered = output.lower()
    return any(word in lowered for word in _STUB_WORDS)


def detect(master_binary: str = "mfsmaster", metarestore_binary: str = "mfsmetarestore",
           timeout: float = 10.0) -> Generation:
    result = run([master_binary, "-v"], timeout)
    version = parse_version(result.stdout + result.stderr)
    if version is None:
        raise GenerationError("cannot tell the MooseFS version from %s" % result.describe())
    method = method_for(version)
    if method == METARESTORE:
        probe = run([metarestore_binary, "-v"], timeout)
        if probe.returncode == 127 or is_metarestore_stub(probe.stdout + probe.stderr):
            raise GenerationError("MooseFS %d.%d.%d needs a working %s, found %s"
                                  % (version + (metarestore_binary, probe.describe())))
    return Generation(version, method)
