"""The steps a promote and a step-down are made of, the same for every front-end.
`node` is a moosefs.node.LocalNode, `log` has info, warning and step (a
timed context), deadlines have remaining() (procrun.Deadline). A step that fails raises
StepFailed with a one-line reason."""
from __future__ import annotations

import os
import time

from .mark import CHANGE_TOLERANCE, Freshness

# A monitor or notification reads changelogs at most this long, then reads on next time
# (after a reboot the cache is empty and DATA_PATH may hold gigabytes of them).
READ_BUDGET_SECONDS = 10
READING = "reading"  # an inspection's verdict while changelogs are not all read yet
HOLE_RESTART_SECONDS = 300  # a metalogger with a hole in its files is restarted at most this often


class StepFailed(Exception):
    """A step could not be done (one line)."""


def inspect_own(node, mark: Freshness | None, me: str, store=None,
                budget_s: float | None = None):
    """(Freshness or None, inspection) of the node's data directory, read with what the
    cluster knows of its history (`mark`, as node `me` sees it). Changelogs are read
    line by line, as the restore reads them, so that a hole or a jump inside one is
    seen; `store` (read() and write() of a dict, kept by the front-end) keeps what
    earlier inspections read, so only appended lines are read. With `budget_s` reading
    stops after that many seconds, the node has nothing to offer yet (verdict READING),
    and the next inspection reads on."""
    from moosefs.files import ScanCache
    from moosefs.inspect import inspect
    until = time.monotonic() + budget_s if budget_s is not None else None
    scans = ScanCache(store.read() if store is not None else {}, until)
    found = inspect(node.data_path, known=mark.known(me) if mark else None, scans=scans)
    if store is not None and (scans.bytes_read or set(scans.data) != scans.seen):
        store.write(scans.pruned())
    if scans.incomplete:
        found.verdict = READING
        found.reason = "changelogs not read to the end yet (%.0f MiB read this time)" % (
            scans.bytes_read / 2**20)
        return None, found
    if not found.restorable:
        return None, found
    return Freshness(found.version, found.metaid), found


def check_inspection_time(node, store, deadline) -> str:
    """Why a promote's inspection alone cannot finish in time ("" when it can): after a
    reboot the scan cache is empty, and every changelog is read line by line."""
    from moosefs.files import ScanCache
    from moosefs.inspect import list_files
    from moosefs.restore import SCAN_BYTES_PER_S
    scans = ScanCache(store.read() if store is not None else {})
    try:
        unread = scans.unread_bytes(node.data_path, list_files(node.data_path)[1])
    except OSError:
        return ""  # the inspection reports an unreadable folder
    needed = unread / SCAN_BYTES_PER_S
    if needed <= deadline.remaining() / 2:
        return ""
    return ("the inspection alone must read %.0f MiB of changelogs (about %.0f s) and only "
            "%.0f s of the promote's time remain; nothing was changed: allow the promote at "
            "least %.0f s (its timeout)" % (unread / 2**20, needed, deadline.remaining(), 4 * needed + 60))


def restore(node, deadline, archiver, own: Freshness | None, mark: Freshness | None, me: str,
            allow_data_loss: bool, store=None):
    """The safe restore (moosefs.restore), held to the mark unless allow_data_loss.
    RestoreError (TooLittleTime: nothing changed) when it refuses."""
    from moosefs.files import ScanCache
    from moosefs.restore import restore as safe_restore
    enforce = mark is not None and not allow_data_loss
    return safe_restore(node.master_cfg, deadline, archiver, allow_create=own is None,
                        expect_metaid=mark.metaid if enforce else 0,
                        minimum_version=mark.version if enforce else 0,
                        known=mark.known(me) if mark else None,
                        scans=ScanCache(store.read()) if store is not None else None)


def start_master(node, deadline, log, held_port: int = 0, cfg_copy: str = "") -> None:
    """Start mfsmaster and wait for its first accepted client connection; with
    `held_port`, from the closed config `cfg_copy`, at that loopback port
    (failover.hold)."""
    from moosefs.clienthold import HOLD_HOST
    from moosefs.daemons import DaemonError, wait_serving
    with log.step("master start") as step:
        try:
            node.master.start(deadline.remaining(), cfg_path=cfg_copy if held_port else None)
        except DaemonError as error:
            raise StepFailed("%s; see the system log of mfsmaster" % error) from None
        step.note = "pid %d" % node.master.pid()
    host, port = (HOLD_HOST, held_port) if held_port else node.client_address()
    with log.step("first accepted connection") as step:
        step.note = "port %d" % port + (" (clients held off)" if held_port else "")
        if not wait_serving(host, port, deadline):
            raise StepFailed("mfsmaster started but does not accept connections on port %d"
                             % port)


def stop_master(node, deadline_s: float, fast: bool, log):
    """Stop mfsmaster cleanly; with `fast`, end its data-writer child right after
    SIGTERM, so that it stores its metadata and exits at once instead of after about
    3 s. Returns the image it stored (moosefs.files.Image) when it stopped cleanly,
    else None (not running, killed, or no valid image)."""
    from moosefs.daemons import DaemonError
    from moosefs.files import read_image
    if not node.master.pid():
        return None
    with log.step("master stop") as step:
        try:
            if fast:
                clean, ended = node.master.stop_fast(deadline_s)
            else:
                clean, ended = node.master.stop(deadline_s), False
        except DaemonError as error:
            raise StepFailed(str(error)) from None
        step.note = ("clean" if clean else "killed") + (", data writer ended at once"
                                                         if ended else "")
    if not clean:
        log.warning("mfsmaster did not stop in time and was killed; it saved no image")
        return None
    image = read_image(os.path.join(node.data_path, "metadata.mfs"))
    if not image.valid:
        return None
    log.info("mfsmaster stopped cleanly at version %d" % image.version)
    return image


def start_metalogger(node, deadline_s: float, archiver, mark: Freshness | None, me: str,
                     log) -> None:
    """Start mfsmetalogger. On connecting it drops a history ahead of its master's: a
    copy of metalogger files that restore above the mark (plus CHANGE_TOLERANCE, by
    which a mark may lag its master) goes into the archive first."""
    from moosefs.daemons import DaemonError
    from moosefs.restore import RestoreError, prepare_for_metalogger
    master_at_most = mark.version + CHANGE_TOLERANCE if mark else None
    try:
        archive = prepare_for_metalogger(node.data_path, archiver,
                                         mark.known(me) if mark else None, master_at_most)
    except RestoreError as error:
        raise StepFailed("before starting the metalogger: %s" % error) from None
    if archive:
        log.info("before the metalogger starts, files set aside into %s" % archive)
    try:
        node.metalogger.start(deadline_s)
    except DaemonError as error:
        raise StepFailed("%s; see the system log of mfsmetalogger" % error) from None


def hole_needs_restart(found, last_restart_at: float) -> bool:
    """Should the metalogger be restarted for a hole in its files? A metalogger that
    connected to a new master after its first changes, before that master flushed its
    changelog, misses them for good (seen with MooseFS 4.57: a hole right after the
    image); restarted, it downloads the image and the changelogs again, which close the
    hole. At most once per HOLE_RESTART_SECONDS."""
    return found is not None and found.verdict == "hole" and found.source == "metalogger" \
        and time.time() - last_restart_at >= HOLE_RESTART_SECONDS


def restart_metalogger(node, deadline_s: float, archiver, mark: Freshness | None, me: str,
                       log, why: str) -> None:
    log.warning("metalogger files have a hole (%s): restarting mfsmetalogger so that it "
                "downloads them again" % why)
    node.metalogger.stop(deadline_s / 2)
    start_metalogger(node, deadline_s / 2, archiver, mark, me, log)

