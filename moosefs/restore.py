"""The safe restore: pick the right history, repair what MooseFS would silently drop,
restore offline, and verify the result before anything starts.

Steps of `restore()`:
  1. refuse when a master already runs on this data directory;
  2. inspect thoroughly (moosefs.inspect, which applies moosefs.history);
  3. refuse with the inspection's reason unless the verdict is restorable
     (a brand-new empty file system only when the caller asks for one);
  4. archive every file to be set aside, trimmed or cut, then apply those repairs;
  5. refuse files the installed MooseFS cannot read (4.x history on 3.0 binaries);
     inspect again: the repaired directory must restore to the same version with
     nothing left to repair;
  6. give the directory to WORKING_USER (mfsmaster silently ignores files it cannot read);
  7. run the installed generation's restore command under the caller's deadline;
  8. check the new metadata.mfs: complete, same metadata id, version at least the
     inspected one.
Starting the master is a separate step (daemons.Master.start) so that the master
starts with a metadata.mfs.back that metaloggers can download at once.
"""
from __future__ import annotations

import os
import time

from . import generation as gen
from .archive import Archiver, ArchiveError, drop_prefix, truncate_at
from .config import Config
from .daemons import Master
from .files import NEW_SIGNATURE, read_image
from .history import MASTER, METALOGGER, Known, kind_of
from .owner import Owner, UnknownOwner, of_config
from .inspect import EMPTY, RESTORABLE, Inspection, Repair, inspect

RESTORED_NAME = "metadata.mfs"


class RestoreError(Exception):
    pass


class TooLittleTime(RestoreError):
    """The restore cannot finish in the time left; nothing was changed."""


# Rates for the early time checks, above what a 2-core node reaches (docs/benchmarks.md),
# so that a promote is refused only when it clearly cannot finish: reading a changelog
# line by line in Python (the check before a promote's inspection), gzip level 1 into
# the archive, and MooseFS loading an image and replaying changelogs.
SCAN_BYTES_PER_S = 100e6
ARCHIVE_BYTES_PER_S = 100e6
LOAD_BYTES_PER_S = 200e6
REPLAY_BYTES_PER_S = 50e6
START_SECONDS = 5.0  # mfsmaster's own start and stop around the load


def _image_bytes(found: Inspection, data_path: str) -> int:
    try:
        return os.path.getsize(os.path.join(data_path, found.best.name)) if found.best else 0
    except OSError:
        return 0


def seconds_needed(found: Inspection, data_path: str, archive_bytes: int) -> float:
    """A lower estimate of the restore's duration from the sizes it must read (the
    inspection has read the changelogs already)."""
    base = found.best.version if found.best else 0
    replayed = sum(log.size for log in found.changelogs if log.last >= base)
    return (START_SECONDS + archive_bytes / ARCHIVE_BYTES_PER_S
            + _image_bytes(found, data_path) / LOAD_BYTES_PER_S
            + replayed / REPLAY_BYTES_PER_S)


def check_time(deadline, found: Inspection, data_path: str, step: str,
               archive_bytes: int = 0) -> None:
    """Refuse before `step` when what is left of the restore cannot finish in time."""
    needed = seconds_needed(found, data_path, archive_bytes)
    left = deadline.remaining()
    if needed > left:
        size = sum(log.size for log in found.changelogs) + _image_bytes(found, data_path)
        raise TooLittleTime(
            "before %s: about %.0f s of work remain (%.0f MiB of metadata and changelogs in %s) "
            "but only %.0f s of the action's timeout; nothing was changed: set the promote "
            "timeout to at least %.0f s (op promote timeout=...)"
            % (step, needed, size / 2**20, data_path, left, 2 * needed + 60))


class RestoreResult:
    def __init__(self, inspection: Inspection, version: int, metaid: int,
                 archive: str | None,
                 command: list[str] | None = None, command_seconds: float = 0.0,
                 generation: gen.Generation | None = None) -> None:
        self.inspection = inspection
        self.version = version
        self.metaid = metaid
        self.archive = archive
        self.command = command or []        # the MooseFS restore command, as run
        self.command_seconds = command_seconds
        self.generation = generation  # the MooseFS that restored it


def apply_repairs(data_path: str, repairs: list[Repair], archiver: Archiver,
                  label: str) -> str | None:
    """Archive, then set aside / trim / cut. Returns the archive path (None: nothing to do)."""
    touched = [r for r in repairs if r.kind != Repair.CHOWN]
    if not touched:
        return None
    names = sorted({r.name for r in touched})
    try:
        archive = archiver.store(data_path, names, label)
    except ArchiveError as error:
        raise RestoreError(str(error)) from None
    from .safedir import SafeDir, UnsafeFile
    try:
        with SafeDir(data_path) as folder:
            for repair in touched:
                if repair.kind == Repair.SET_ASIDE:
                    folder.unlink(repair.name)  # its content is in `archive`
                elif repair.kind == Repair.TRIM:
                    truncate_at(folder, repair.name, repair.offset)
                elif repair.kind == Repair.CUT_PREFIX:
                    drop_prefix(folder, repair.name, repair.offset)
    except UnsafeFile as error:
        raise RestoreError("refusing to repair %s (the archive %s holds what was there)"
                           % (error.strerror, archive)) from None
    return archive


def create_new(cfg: Config, deadline, owner: Owner, generation: gen.Generation,
               found: Inspection) -> RestoreResult:
    """A brand-new file system, restored from the 8-byte `MFSM NEW` marker into a complete
    image of version 1. A master started on the bare marker keeps it as its
    metadata.mfs.back until its first hourly dump, and metaloggers download it; a later
    MooseFS generation replaying changes onto that marker builds its own kind of new file
    system (see moosefs.generation.marker_trap)."""
    from .safedir import SafeDir
    try:
        with SafeDir(cfg.data_path) as folder:
            with os.fdopen(folder.create_named(RESTORED_NAME, 0o640), "wb") as stream:
                stream.write(NEW_SIGNATURE)
    except FileExistsError:
        raise RestoreError("%s appeared in %s while creating a new file system: refusing"
                           % (RESTORED_NAME, cfg.data_path)) from None
    owner.give(cfg.data_path)
    if generation.method == gen.METARESTORE:
        # 1.6 starts on the marker
        return RestoreResult(found, 1, 0, None, generation=generation)
    restored, command, seconds = _run_restore(cfg, generation, deadline)
    if restored.version != 1:
        raise RestoreError("the new file system restored to version %d, not 1"
                           % restored.version)
    owner.give(cfg.data_path)
    return RestoreResult(found, 1, restored.metaid, None, command=command,
                         command_seconds=seconds, generation=generation)


def _run_restore(cfg: Config, generation: gen.Generation, deadline):
    """Run the generation's restore command; returns the image it wrote (checked to be
    complete), the command and its seconds."""
    from procrun import run
    command = _restore_command(generation.method, cfg.path, cfg.data_path)
    started = time.monotonic()
    result = run(command, deadline)
    seconds = time.monotonic() - started
    if not result.ok:
        raise RestoreError("restore failed: %s" % result.describe())
    if generation.method == gen.MASTER_AUTO_START:
        # the clean stop writes metadata.mfs
        Master(cfg.path, cfg.data_path).stop(max(1.0, deadline.remaining()))
    restored = read_image(os.path.join(cfg.data_path, RESTORED_NAME))
    if not restored.valid:
        raise RestoreError("restore wrote no complete %s in %s" % (RESTORED_NAME, cfg.data_path))
    return restored, command, seconds


def _restore_command(method: str, cfg_path: str, data_path: str) -> list[str]:
    if method == gen.MASTER_RESTORE:
        return ["mfsmaster", "-a", "-c", cfg_path, "restore"]
    if method == gen.MASTER_AUTO_START:
        return ["mfsmaster", "-a", "-c", cfg_path, "start"]
    return ["mfsmetarestore", "-a", "-d", data_path]


def _preselect_for_metarestore(data_path: str, inspection: Inspection, archiver: Archiver) -> None:
    """1.6's `-a` takes metadata.mfs.back even when older: leave it only the best image."""
    best = inspection.best
    others = [i.name for i in inspection.images if i.valid and best and i.name != best.name
              and os.path.exists(os.path.join(data_path, i.name))]
    repairs = [Repair(Repair.SET_ASIDE, n, "older than %s" % best.name) for n in others]
    apply_repairs(data_path, repairs, archiver, "pre-1.6-restore")
    if best and best.name != "metadata.mfs.back":
        os.rename(os.path.join(data_path, best.name), os.path.join(data_path, "metadata.mfs.back"))


def restore(cfg: Config, deadline, archiver: Archiver, generation: gen.Generation | None = None,
            allow_create: bool = False, expect_metaid: int = 0,
            minimum_version: int = 0, known: Known | None = None,
            scans=None) -> RestoreResult:
    """Restore cfg.data_path into a master-ready metadata.mfs. `deadline` has remaining();
    `known` is what the cluster knows of its history (moosefs.history); `scans` (a
    files.ScanCache) spares reading again what an earlier inspection read. Before each
    long step the time left is checked (TooLittleTime, nothing changed)."""
    from .files import ScanCache
    scans = scans if scans is not None else ScanCache()
    data_path = cfg.data_path
    master = Master(cfg.path, data_path)
    if master.pid():
        raise RestoreError("mfsmaster (pid %d) already runs on %s: refusing to restore under it"
                           % (master.pid(), data_path))
    try:
        owner = of_config(cfg)
    except UnknownOwner as error:
        raise RestoreError(str(error)) from None
    found = inspect(data_path, thorough=True, owner=owner, known=known, scans=scans)
    if found.verdict == EMPTY:
        if not allow_create:
            raise RestoreError("no metadata in %s; a new empty file system is created only "
                               "when explicitly allowed" % data_path)
        return create_new(cfg, deadline, owner, generation or gen.detect(), found)
    if found.verdict != RESTORABLE:
        raise RestoreError("metadata in %s cannot be restored safely: %s" % (data_path, found.reason))
    if expect_metaid and found.metaid and found.metaid != expect_metaid:
        raise RestoreError("metadata id %016X in %s differs from the cluster's %016X"
                           % (found.metaid, data_path, expect_metaid))
    if found.version < minimum_version:
        raise RestoreError("%s restores only to version %d, below the required %d"
                           % (data_path, found.version, minimum_version))
    generation = generation or gen.detect()
    refuse_newer_history(generation, found)
    check_time(deadline, found, data_path, "the repairs", archive_bytes=_repaired_bytes(
        data_path, found.repairs))
    archive = apply_repairs(data_path, found.repairs, archiver, "before-restore")
    repaired = inspect(data_path, thorough=True, owner=owner, known=known,
                       scans=scans)
    leftover = [r for r in repaired.repairs if r.kind != Repair.CHOWN]
    if repaired.verdict != RESTORABLE or repaired.version != found.version or leftover:
        raise RestoreError("after repairs %s no longer restores to %d: %s %s" % (
            data_path, found.version, repaired.summary(), leftover))
    owner.give(data_path)
    if generation.method == gen.METARESTORE:
        _preselect_for_metarestore(data_path, repaired, archiver)
        owner.give(data_path)
    check_time(deadline, repaired, data_path, "mfsmaster's restore")
    restored, command, command_seconds = _run_restore(cfg, generation, deadline)
    if found.metaid and restored.metaid != found.metaid:
        raise RestoreError("restored metadata id %016X differs from the inspected %016X"
                           % (restored.metaid, found.metaid))
    if restored.version < found.version:
        raise RestoreError("restored version %d is below the inspected %d: MooseFS skipped "
                           "changes" % (restored.version, found.version))
    owner.give(data_path)
    return RestoreResult(found, restored.version, restored.metaid or found.metaid, archive,
                         command=command, command_seconds=command_seconds,
                         generation=generation)


def _repaired_bytes(data_path: str, repairs: list[Repair]) -> int:
    """Bytes the repairs copy into the archive."""
    total = 0
    for name in {r.name for r in repairs if r.kind != Repair.CHOWN}:
        try:
            total += os.path.getsize(os.path.join(data_path, name))
        except OSError:
            pass
    return total


def refuse_newer_history(generation: gen.Generation, found: Inspection) -> None:
    """Refuse, before anything is touched, files this MooseFS generation cannot read."""
    set_aside = {r.name for r in found.repairs if r.kind == Repair.SET_ASIDE}
    best = os.path.join(found.data_path, found.best.name) if found.best else None
    replayed = [c for c in found.changelogs if c.name not in set_aside]
    why = gen.unreadable_history(generation, best, replayed) or \
        gen.marker_trap(generation, found.best.signature if found.best else "", replayed)
    if why:
        raise RestoreError(why)


def prepare_for_metalogger(data_path: str, archiver: Archiver, known: Known | None,
                           master_at_most: int | None) -> str | None:
    """Before a metalogger starts here; returns the archive written, if any.

    When this node's own master files are the cluster's newest history (rule 3(a) of
    moosefs.history), the older metalogger files are set aside, so that the metalogger
    does not append to a changelog from before this node's stint as master. Otherwise
    see `copy_if_ahead`.
    """
    found = inspect(data_path, thorough=False, known=known)
    stale = [r for r in found.repairs
             if r.kind == Repair.SET_ASIDE and kind_of(r.name) == METALOGGER]
    if found.source == MASTER and stale:
        return apply_repairs(data_path, stale, archiver, "before-metalogger")
    return copy_if_ahead(data_path, archiver, known, master_at_most, found)


def copy_if_ahead(data_path: str, archiver: Archiver, known: Known | None,
                  master_at_most: int | None, found: Inspection | None = None) -> str | None:
    """A metalogger that finds its files ahead of the master it connects to deletes all of
    its changelogs ("some changes lost", mfsmetalogger/masterconn.c): after a forced
    promotion, a branch ahead of the new master would vanish. When the metalogger files
    restore above `master_at_most` (the most the master it follows can have reached), a
    copy goes into the archive first. Returns the archive written, if any."""
    found = found or inspect(data_path, thorough=False, known=known)
    if found.source != METALOGGER or master_at_most is None or found.version <= master_at_most:
        return None
    label = "metalogger-ahead-%d" % found.version
    if any(("-%s." % label) in os.path.basename(path) for path in archiver.archives()):
        return None  # this very history is in the archive already
    names = [n for n in [i.name for i in found.images] + [c.name for c in found.changelogs]
             if kind_of(n) == METALOGGER]
    try:
        return archiver.store(data_path, names, label)
    except ArchiveError as error:
        raise RestoreError(str(error)) from None
