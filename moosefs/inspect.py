"""What a data directory restores to, decided offline in pure Python.

The version is the one this package's restore produces: the history rule
(moosefs.history) picks the files, partial trailing lines are trimmed, and the
prefix of a changelog before a jump of MAXIDHOLE or more ids is cut when it lies
below the base image. `repairs` lists each such step so the caller can see it.
"""
from __future__ import annotations

import os

from . import history
from .files import (Changelog, Image, changelog_name, find_line, is_image_name,
                    read_changelog, read_image)

RESTORABLE = "restorable"
NO_IMAGE = "no-image"
IDS_DISAGREE = "ids-disagree"
HOLE = "hole"
INCOMPLETE = "incomplete"
UNREADABLE = "unreadable"
UNSAFE = "unsafe"  # a metadata file's name holds a link or another kind of file
EMPTY = "empty"  # no metadata files at all: a brand-new node
UNDECIDED = "undecided"  # the history rule cannot tell which files are the cluster's
DIVERGED = "diverged"  # the files hold another change where the cluster's branch has its own


class Repair:
    """One step the restore takes before calling MooseFS."""

    TRIM = "trim"            # cut a partial trailing line (kept in the archive)
    CUT_PREFIX = "cut-prefix"  # cut the lines before a MAXIDHOLE jump (kept in the archive)
    SET_ASIDE = "set-aside"  # move the file into the archive
    CHOWN = "chown"          # give the file to WORKING_USER

    __slots__ = ("kind", "name", "reason", "offset")

    def __init__(self, kind: str, name: str, reason: str, offset: int = 0) -> None:
        self.kind = kind
        self.name = name
        self.reason = reason
        self.offset = offset

    def __repr__(self) -> str:
        return "Repair(%s %s: %s)" % (self.kind, self.name, self.reason)


class Inspection:
    def __init__(self, data_path: str) -> None:
        self.data_path = data_path
        self.images: list[Image] = []
        self.changelogs: list[Changelog] = []
        self.best: Image | None = None
        self.metaid = 0
        self.version = 0
        self.verdict = EMPTY
        self.reason = ""
        self.repairs: list[Repair] = []
        self.source = ""
        self.source_why = ""  # why the history rule chose `source`
        self.newest_stamp = 0  # when the newest change these files restore was made

    @property
    def restorable(self) -> bool:
        return self.verdict == RESTORABLE

    @property
    def metaid_hex(self) -> str:
        return "%016X" % self.metaid

    def summary(self) -> str:
        return "%s: %s, version %d, metadata id %s (%s)" % (
            self.data_path, self.verdict, self.version, self.metaid_hex, self.reason)


def list_files(data_path: str) -> tuple[list[str], list[str]]:
    """Names of metadata images and changelogs in the directory."""
    names = sorted(os.listdir(data_path))
    images = [n for n in names if is_image_name(n) and os.path.isfile(os.path.join(data_path, n))]
    logs = [n for n in names if changelog_name(n)]
    return images, logs


def unsafe_names(data_path: str) -> list[str]:
    """Metadata and changelog names in data_path that are not plain regular files (a
    link planted by whoever controls WORKING_USER, a FIFO, ...), described."""
    import stat

    from .safedir import kind_of
    found = []
    for name in sorted(os.listdir(data_path)):
        if not (is_image_name(name) or changelog_name(name)):
            continue
        try:
            status = os.lstat(os.path.join(data_path, name))
        except OSError:
            continue
        if not stat.S_ISREG(status.st_mode):
            found.append("%s is %s" % (os.path.join(data_path, name), kind_of(status.st_mode)))
        elif status.st_nlink != 1:
            found.append("%s has %d hard links" % (os.path.join(data_path, name),
                                                   status.st_nlink))
    return found


def merge(images: list[Image], changelogs: list[Changelog]) -> tuple[int, Image | None, str]:
    """The version reached from the best valid image through the changelog segments.

    Returns (version, best image, problem); problem is empty when no hole was found.
    """
    valid = [i for i in images if i.valid]
    if not valid:
        return 0, None, "no valid metadata image"
    best = max(valid, key=lambda i: (i.version, i.name))
    version = best.version
    segments = [s for log in changelogs for s in _usable_segments(log, version)]
    progressed = True
    while progressed:
        progressed = False
        for first, last in segments:
            if first <= version <= last:
                version = last + 1
                progressed = True
    # Every id present anywhere, also after a jump mfsmaster would not read past,
    # must be reached; otherwise changes would be silently lost.
    known = [s for log in changelogs if log.readable for s in log.segments]
    beyond = [first for first, last in known if last >= version]
    if beyond:
        return version, best, "changes %d to %d are missing" % (version, min(beyond) - 1)
    return version, best, ""


def _usable_segments(log: Changelog, base_version: int) -> list[tuple[int, int]]:
    if not log.readable or not log.segments:
        return []
    before, after = log.split_at_garbage()
    # Past a jump mfsmaster reads only `before`, unless the restore cuts that prefix.
    segments = after if _prefix_below(log, base_version) else before
    return [s for s in segments if s[1] >= base_version]


def _prefix_below(log: Changelog, base_version: int) -> bool:
    """Does the part before a MAXIDHOLE jump lie wholly below the base image?
    Then the restore cuts it (Repair.CUT_PREFIX) and the rest of the file counts."""
    before, after = log.split_at_garbage()
    return bool(before and after) and max(s[1] for s in before) < base_version


def inspect(data_path: str, thorough: bool = False, owner=None,
            known: history.Known | None = None, scans=None) -> Inspection:
    """Inspect `data_path`. `owner` (moosefs.owner.Owner) is WORKING_USER, to check readability;
    `known` is what the cluster knows of its history (moosefs.history). With `scans`
    (a files.ScanCache), changelogs are read line by line as the restore reads them,
    but only what was appended since the cache's last inspection: the version is the
    one the restore reaches. `thorough` adds the branch proof (the fingerprint)."""
    result = Inspection(data_path)
    try:
        unsafe = unsafe_names(data_path)
        image_names, log_names = list_files(data_path)
    except OSError as error:
        result.verdict, result.reason = UNREADABLE, "cannot list %s: %s" % (data_path, error.strerror)
        return result
    if unsafe:
        result.verdict = UNSAFE
        result.reason = "%s: refusing to act on it (move it away)" % "; ".join(unsafe)
        return result
    result.images = [read_image(os.path.join(data_path, n)) for n in image_names]
    result.changelogs = [read_changelog(os.path.join(data_path, n), thorough, scans)
                         for n in log_names]
    unreadable = [i.name for i in result.images if not i.readable] + \
                 [c.name for c in result.changelogs if not c.readable]
    if unreadable:
        result.verdict = UNREADABLE
        result.reason = "cannot read %s" % ", ".join(unreadable)
        return result
    if not result.images and not result.changelogs:
        result.verdict, result.reason = EMPTY, "no metadata files"
        return result
    selection = history.select(result.images, result.changelogs,
                               lambda imgs, logs: merge(imgs, logs)[0], known)
    if selection.undecided:
        result.verdict, result.reason = UNDECIDED, selection.undecided
        return result
    result.source, result.source_why = selection.source, selection.why
    for name, why in sorted(selection.set_aside.items()):
        result.repairs.append(Repair(Repair.SET_ASIDE, name, why))
    result.repairs.extend(_log_repairs(selection.changelogs, selection.images))
    if owner is not None:
        for item in selection.images + selection.changelogs:
            if not owner.can_read(os.path.join(data_path, item.name)):
                result.repairs.append(Repair(Repair.CHOWN, item.name,
                                             "not readable by the MooseFS working user"))
    _judge(result, selection)
    if thorough and known is not None and known.fingerprint and result.restorable:
        _prove_branch(result, selection, known)
    return result


def change_fingerprint(data_path: str, version: int,
                       changelogs: list[Changelog] | None = None) -> str:
    """Fingerprint (history.fingerprint) of the change just below `version`, i.e. the
    last change a master at `version` made; "" when no changelog here holds it."""
    wanted = version - 1
    if changelogs is None:
        changelogs = [read_changelog(os.path.join(data_path, n)) for n in list_files(data_path)[1]]
    for log in changelogs:
        if log.usable and log.first <= wanted <= log.last:
            line = find_line(os.path.join(data_path, log.name), wanted)
            if line is not None:
                return history.fingerprint(line)
    return ""


def _prove_branch(result: Inspection, selection: history.Selection, known: history.Known) -> None:
    """Rule 5 of moosefs.history: the change below the known version must be the same."""
    found = change_fingerprint(result.data_path, known.version, selection.changelogs)
    if found and found != known.fingerprint:
        result.verdict = DIVERGED
        result.reason = ("change %d here differs from the one the cluster's last master wrote "
                         "(fingerprint %s, expected %s): these files are another branch"
                         % (known.version - 1, found, known.fingerprint))


def _log_repairs(changelogs: list[Changelog], images: list[Image]) -> list[Repair]:
    valid = [i.version for i in images if i.valid]
    base = max(valid) if valid else 0
    below = _entries_below_that_look_like_a_hole(changelogs, base)
    repairs = []
    for log in changelogs:
        if log.partial_tail:
            repairs.append(Repair(Repair.TRIM, log.name,
                                  "partial last line (%d bytes) would make mfsmaster skip "
                                  "the whole file" % log.partial_tail, log.size - log.partial_tail))
        cuts = []
        if _prefix_below(log, base):
            before_last = max(s[1] for s in log.split_at_garbage()[0])
            cuts.append((log.garbage_offset or 0, "ids jump to %d after %d: mfsmaster would "
                         "ignore the rest" % (log.garbage_at, before_last)))
        if log.name in below:
            cuts.append((below[log.name], _BELOW_WHY % base))
        if cuts:  # one cut, at the later offset: it takes the earlier prefix along
            offset, why = max(cuts)
            repairs.append(Repair(Repair.CUT_PREFIX, log.name, why, offset))
    return repairs


_BELOW_WHY = ("changes below the image (version %d), not followed by the change just below "
              "it: mfsmaster takes the gap after them for a hole and refuses to restore")


def _entries_below_that_look_like_a_hole(changelogs: list[Changelog], base: int) -> dict[str, int]:
    """mfsmaster skips a changelog whose last change is below the image's version
    (metadata.c), and its replay (restore.c, restore_file) requires the newest change it
    reads below that version to be the one just below it. A metalogger that followed a
    new master writes files like changelog_ml.0.mfs holding 1562-1697 then 2259-2382
    beside an image at 2199: mfsmaster stops at "hole in change files (1698 to 2198)",
    although nothing there is needed. The cure keeps every change below the image out of
    the replay: {file name: byte offset to cut its prefix at}. Thorough readings only
    (fast ones do not know where a file's runs begin)."""
    read = {log.name: _read_segments(log, base) for log in changelogs
            if log.thorough and log.usable and log.last >= base}
    every = [s for segments in read.values() for s, _ in segments]
    if not any(first < base for first, _ in every) or not any(last >= base for _, last in every) \
            or any(first <= base - 1 <= last for first, last in every):
        return {}
    found: dict[str, int] = {}
    for name, segments in read.items():
        later = [offset for (first, _), offset in segments if first >= base]
        if later and any(first < base for (first, _), _ in segments):
            found[name] = min(later)
    return found


def _read_segments(log: Changelog, base: int) -> list[tuple[tuple[int, int], int]]:
    """((first, last), byte offset) of the runs of `log` that mfsmaster reads."""
    paired = list(zip(log.segments, log.segment_offsets))
    if log.garbage_index is None:
        return paired
    return paired[log.garbage_index:] if _prefix_below(log, base) else paired[:log.garbage_index]


def _judge(result: Inspection, selection: history.Selection) -> None:
    version, best, problem = merge(selection.images, selection.changelogs)
    result.best, result.version = best, version
    ids = {i.metaid for i in selection.images if i.valid and i.metaid}
    if best is None:
        truncated = [i.name for i in selection.images if not i.complete and i.readable]
        if truncated:
            result.verdict = INCOMPLETE
            result.reason = "only incomplete image(s): %s" % ", ".join(truncated)
        else:
            result.verdict, result.reason = NO_IMAGE, "no valid metadata image"
        return
    result.metaid = best.metaid or (min(ids) if ids else 0)
    if len(ids) > 1:
        result.verdict = IDS_DISAGREE
        result.reason = "images with different metadata ids: %s" % ", ".join(
            "%s=%016X" % (i.name, i.metaid) for i in selection.images if i.valid and i.metaid)
        return
    if problem:
        result.verdict, result.reason = HOLE, "hole in the changelog chain: " + problem
        return
    newer_truncated = [i for i in selection.images
                       if i.readable and not i.complete and i.version > version]
    if newer_truncated:
        result.verdict = INCOMPLETE
        result.reason = "%s is incomplete and newer than what the other files reach (%d)" % (
            newer_truncated[0].name, version)
        return
    result.verdict = RESTORABLE
    result.reason = "image %s (version %d) + changelogs reach %d" % (best.name, best.version,
                                                                    version)
    last = [log.last_stamp for log in selection.changelogs if log.last == version - 1]
    result.newest_stamp = max(last, default=0)
