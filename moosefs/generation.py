"""Which MooseFS generation is installed, and so how metadata is restored.

  1.6       a real `mfsmetarestore -a -d DIR`
  1.7, 2.x  `mfsmaster -a` (one step; this package follows it with a clean stop)
  3.x, 4.x  `mfsmaster -a restore`: offline, then a normal start
On 1.7 and newer `mfsmetarestore` is a stub that prints a notice and exits 0 without
restoring anything: it is recognised and never trusted.
"""
from __future__ import annotations

import os
import re

from procrun import run

_VERSION = re.compile(r"version:?\s*(\d+)\.(\d+)\.(\d+)")
_STUB_WORDS = ("has been removed", "use mfsmaster -a")

METARESTORE = "mfsmetarestore"       # 1.6
MASTER_AUTO_START = "mfsmaster-a"    # 1.7 and 2.x
MASTER_RESTORE = "mfsmaster-restore"  # 3.x and newer


def unreadable_history(generation: "Generation", image_path: str | None,
                       changelogs: list) -> str | None:
    """Why this generation cannot restore these files, or None. MooseFS 3.0 cannot read a
    4.x image (its PATT section) nor replay a 4.x changelog (IDLE() entries); it would
    stop or drop data, so such a node must be upgraded before it is promoted. Changelogs
    must come from a thorough reading."""
    from .files import IDLE_ENTRY, SECTIONS_3_0, image_sections
    if generation.version[0] >= 4:
        return None
    found = []
    if image_path:
        newer = [s for s in image_sections(image_path) if s[:4] not in SECTIONS_3_0]
        if newer:
            found.append("%s has sections %s" % (os.path.basename(image_path), ", ".join(newer)))
    idle = [log.name for log in changelogs if log.idle_entries]
    if idle:
        found.append("%s hold%s %s entries" % (", ".join(idle), "s" if len(idle) == 1 else "",
                                              IDLE_ENTRY.decode()[1:] + ")"))
    if not found:
        return None
    return ("metadata here was written by MooseFS 4 (%s), which MooseFS %s on this node cannot "
            "read: upgrade MooseFS on this node first (a rolling upgrade upgrades every node "
            "before the next failover)" % ("; ".join(found), generation.text))


def marker_trap(generation: "Generation", image_signature: str,
                changelogs: list) -> str | None:
    """Why MooseFS 4 must not replay these changes onto the new-file-system marker, or
    None. From the 8-byte `MFSM NEW` marker 4.x builds its own kind of new file system
    (its storage classes, erasure coding on); 3.x changes replayed onto that make a file
    system that refuses every 3.x chunkserver and client. An IDLE() entry proves 4.x
    logged the changes; without one, 4.x and 3.x changes look alike, and the promote is
    refused. Changelogs must come from a thorough reading."""
    from .files import IDLE_ENTRY, NEW_SIGNATURE
    if generation.version[0] < 4 or image_signature != NEW_SIGNATURE.decode() \
            or not changelogs or any(log.idle_entries for log in changelogs):
        return None
    return ("metadata here is the new-file-system marker plus changes with no %s entry, so "
            "possibly from MooseFS 3: MooseFS %s would replay them onto a 4.x new file system "
            "(erasure coding on), which refuses 3.x chunkservers and clients; promote a node "
            "whose image is complete (mfsha inspect shows MFSM 2.0)"
            % (IDLE_ENTRY.decode()[1:] + ")", generation.text))


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
