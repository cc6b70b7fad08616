"""Which files of a data directory may take part in a restore.

`mfsmaster -a` takes the highest-versioned `metadata*` file it finds and merges every
changelog in the directory. A node's directory can hold files from two histories:

  * master files (`metadata.mfs`, `metadata.mfs.back*`, `changelog.N.mfs`), written
    while this node was the master;
  * metalogger files (`metadata_ml*`, `changelog_ml.N.mfs`, `changelog_ml_back.N.mfs`),
    received from whichever master the metalogger followed.

Which of them is the cluster's history rests on what the cluster knows (`Known`, handed
in by the caller; this package knows no cluster manager), never on file times: clock
steps, restored backups, `cp` and rsync without -t all make modification times lie.

The rule, in order:

 1. Any other `metadata*` name (a hand copy, `metadata_whatever`) is foreign: set aside.
 2. A rotated backup (`X.back.N`) whose version is higher than its primary `X.back`
    comes from an abandoned branch (a metalogger that resynchronised to a master that
    was behind it keeps such a file): set aside.
 3. The cluster knows its last master and the version it reached:
    (a) this node was that master, and its master files restore to that version or
        above: they are the cluster's newest history (a clean demotion, or a crash of
        the whole cluster, followed by a cold start). The metalogger files predate this
        node's stint and are set aside, unless they restore higher still, which the
        cluster's knowledge cannot explain: undecided;
    (b) otherwise the metalogger files are the cluster's history, and the master files
        are set aside whatever their version: they may hold changes that never reached
        the master that came after, on a branch since written over with other changes.
 4. The cluster knows nothing (a first start, a high-water mark lost with the whole
    cluster configuration): when only one kind has a usable image, that kind is used (a
    plain metalogger directory, or a master moved under the cluster). When both do, the
    metalogger files are used if they restore at least as high; if the master files
    restore higher, nothing here tells which is the cluster's: undecided, and an
    operator decides by hand (see `UNDECIDED_HELP`).
 5. Proof of the branch (`Known.fingerprint`, with a thorough reading): the change just
    below the known version, as the last master wrote it. When the chosen files hold
    that change with other content, they are another branch: diverged.

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


class Known:
    """What the cluster knows of its history: the version its last master reached, whether
    that master was this node, and the fingerprint (see `fingerprint`) of the change
    just below that version ("" when not recorded)."""

    def __init__(self, version: int, last_master_here: bool, fingerprint: str = "") -> None:
        self.version = version
        self.last_master_here = last_master_here
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return "Known(version=%d, last_master_here=%s, fingerprint=%r)" % (
            self.version, self.last_master_here, self.fingerprint)


UNDECIDED_HELP = ("to decide by hand, move the files of the history that is not the "
                  "cluster's out of the data directory (`python3 -m moosefs inspect DIR` "
                  "lists master and metalogger files), or tell which node was the last "
                  "master and at which version")


class Selection:
    """The outcome of the rule: files that take part, and files to set aside with why."""

    def __init__(self) -> None:
        self.images: list[Image] = []
        self.changelogs: list[Changelog] = []
        self.set_aside: dict[str, str] = {}  # file name -> reason
        self.source = ""  # MASTER or METALOGGER: whose history is restored
        self.why = ""  # why that history was chosen
        self.undecided = ""  # why the rule cannot choose (then nothing takes part)

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


def select(images: list[Image], changelogs: list[Changelog], restore_version,
           known: Known | None = None) -> Selection:
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

    versions = {kind: restore_version(*groups[kind]) if any(i.valid for i in groups[kind][0])
                else 0 for kind in (MASTER, METALOGGER)}
    use, why = _choose(versions[MASTER], versions[METALOGGER], known)
    if not use:
        selection.undecided = why
        return selection
    drop = METALOGGER if use == MASTER else MASTER
    selection.source, selection.why = use, why
    for item in groups[use][0] + groups[use][1]:
        selection.keep(item)
    for item in groups[drop][0] + groups[drop][1]:
        selection.set_aside[item.name] = why
    return selection


def _choose(master_version: int, ml_version: int, known: Known | None) -> tuple[str, str]:
    """(MASTER or METALOGGER, why), or ("", why the rule cannot decide)."""
    both = "master files restore to %d, metalogger files to %d" % (master_version, ml_version)
    if known is not None:
        if known.last_master_here and master_version >= known.version:
            if ml_version > master_version:
                return "", ("this node was the cluster's last master (version %d), yet its "
                            "metalogger files restore higher than its own: %s" % (
                                known.version, both))
            return MASTER, ("this node was the cluster's last master, at version %d, and its "
                            "master files reach it (%s)" % (known.version, both))
        who = "this node, but its master files do not reach that version" \
            if known.last_master_here else "another node"
        return METALOGGER, ("the cluster's last master (version %d) was %s: its history is "
                            "the metalogger files (%s)" % (known.version, who, both))
    if not master_version:
        return METALOGGER, "no usable master files; the cluster's history is not known"
    if not ml_version:
        return MASTER, "no usable metalogger files; the cluster's history is not known"
    if ml_version >= master_version:
        return METALOGGER, ("the metalogger files restore at least as high as the master "
                            "files (%s); the cluster's history is not known" % both)
    return "", ("both master files and metalogger files are here and the cluster's last "
                "master is not known: %s; %s" % (both, UNDECIDED_HELP))


def fingerprint(line: bytes) -> str:
    """A changelog line's fingerprint: a hash of the change after its id, the same in the
    master's changelog and in every metalogger's copy of it."""
    import hashlib
    change = line.partition(b": ")[2].rstrip(b"\n")
    return hashlib.sha256(change).hexdigest()[:16]
