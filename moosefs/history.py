"""Which files of a data directory may take part in a restore.

`mfsmaster -a` takes the highest-versioned `metadata*` file it finds and merges every
changelog in the directory. A node's directory can hold files from two histories:

  * master files (`metadata.mfs`, `metadata.mfs.back*`, `changelog.N.mfs`), written
    while this node was the master;
  * metalogger files (`metadata_ml*`, `changelog_ml.N.mfs`, `changelog_ml_back.N.mfs`),
    received from whichever master the metalogger followed.

How the two are told apart (the rule, in order):

 1. Any other `metadata*` name (a hand copy, `metadata_whatever`) is foreign: set aside.
 2. A rotated backup (`X.back.N`) whose version is higher than its primary `X.back`
    comes from an abandoned branch (a metalogger that resynchronised to a master that
    was behind it keeps such a file): set aside.
 3. If only one kind has a usable image, that kind is used: a crashed master's own
    directory, or a plain metalogger directory.
 4. If both kinds are usable, the master files are this node's own newest history
    only when
       (a) they restore to a strictly higher version than the metalogger files, and
       (b) no metalogger file was written after the newest master file, i.e. the
           metalogger on this node has received nothing since this node stopped
           being master (a clean demotion followed by a cold start).
    Then the metalogger files, older than the node's own history, are set aside.
    Otherwise the metalogger has since followed another master: the cluster's
    history moved past this node's stint, and the master files are set aside, even
    when their version is higher (they may hold changes that never reached the new
    master, on a branch that has since been written over with other changes).

Setting aside means moving into an archive (moosefs.archive), never deleting.
"""
from __future__ import annotations

from .files import Changelog, Image

MASTER = "master"
METALOGGER = "metalogger"
FOREIGN = "foreign"


def kind_of(name: str) -> str:
    if name.startswith("metadata_ml") or name.startswith("changelog_ml"):
        return METALOGGER
    if name.startswith("metadata.mfs") or name.startswith("changelog."):
        return MASTER
    return FOREIGN


def _primary_of(name: str) -> str | None:
    """`metadata_ml.mfs.back.2` -> `metadata_ml.mfs.back`; None for a primary."""
    base, dot, suffix = name.rpartition(".")
    if dot and suffix.isdigit() and base.endswith(".back"):
        return base
    return None


class Selection:
    """The outcome of the rule: files that take part, and files to set aside with why."""

    def __init__(self) -> None:
        self.images: list[Image] = []
        self.changelogs: list[Changelog] = []
        self.set_aside: dict[str, str] = {}  # file name -> reason
        self.source = ""  # MASTER or METALOGGER: whose history is restored

    def keep(self, item) -> None:
        (self.images if isinstance(item, Image) else self.changelogs).append(item)


def abandoned_backups(images: list[Image]) -> dict[str, str]:
    """Rule 2: rotated backups newer than their primary."""
    by_name = {image.name: image for image in images}
    found = {}
    for image in images:
        primary = by_name.get(_primary_of(image.name) or "")
        if primary is not None and primary.valid and image.valid \
                and image.version > primary.version:
            found[image.name] = ("backup %s (version %d) is newer than %s (version %d): "
                                 "left from an abandoned branch" % (
                                     image.name, image.version, primary.name, primary.version))
    return found


def select(images: list[Image], changelogs: list[Changelog], restore_version) -> Selection:
    """Apply the rule. `restore_version(images, changelogs)` gives a set's version (0: none)."""
    selection = Selection()
    groups: dict[str, tuple[list[Image], list[Changelog]]] = {MASTER: ([], []),
                                                              METALOGGER: ([], [])}
    abandoned = abandoned_backups(images)
    for image in images:
        kind = kind_of(image.name)
        if kind == FOREIGN:
            selection.set_aside[image.name] = "not a file MooseFS writes itself"
        elif image.name in abandoned:
            selection.set_aside[image.name] = abandoned[image.name]
        else:
            groups[kind][0].append(image)
    for log in changelogs:
        groups[kind_of(log.name)][1].append(log)

    master_version = restore_version(*groups[MASTER]) if any(
        i.valid for i in groups[MASTER][0]) else 0
    ml_version = restore_version(*groups[METALOGGER]) if any(
        i.valid for i in groups[METALOGGER][0]) else 0

    if master_version and ml_version:
        newest_master = _newest_mtime(groups[MASTER])
        newest_ml = _newest_mtime(groups[METALOGGER])
        if master_version > ml_version and newest_ml <= newest_master:
            use, drop = MASTER, METALOGGER
            why = ("metalogger files (restore to %d) predate this node's own master files "
                   "(restore to %d)" % (ml_version, master_version))
        else:
            use, drop = METALOGGER, MASTER
            why = ("master files from an earlier stint as master (restore to %d); the "
                   "metalogger has since followed the cluster's master (restore to %d)"
                   % (master_version, ml_version))
    elif master_version:
        use, drop, why = MASTER, METALOGGER, "metalogger files without a usable image"
    else:
        use, drop = METALOGGER, MASTER
        why = "master files without a usable image"
    selection.source = use
    for item in groups[use][0] + groups[use][1]:
        selection.keep(item)
    for item in groups[drop][0] + groups[drop][1]:
        selection.set_aside[item.name] = why
    return selection


def _newest_mtime(group: tuple[list[Image], list[Changelog]]) -> float:
    times = [item.mtime for item in group[0] + group[1]]
    return max(times) if times else 0.0
