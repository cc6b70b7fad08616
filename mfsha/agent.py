"""ocf:mfsha:mfsmaster - the MooseFS metadata server as a promotable clone.

Unpromoted: mfsmetalogger runs and follows the master (MASTER_HOST, normally the
virtual IP); the monitor publishes how fresh this node's metadata is.
Promoted: mfsmaster runs on metadata restored from this node's files.

This module maps OCF actions onto the `moosefs` package through the `ocf` helper;
heartbeat/mfsmaster is the executable that runs it. It keeps the Pacemaker side of
the election: private node attributes, promotion scores and the cluster-wide
high-water mark of the master's version.
"""
from __future__ import annotations

import os
import time

from ocf import codes
from ocf.codes import ClusterUnreachable, OCFError
from ocf.dispatch import Context, main
from ocf.metadata import Action, AgentInfo
from ocf.params import BOOLEAN, INTEGER, Parameter
from ocf.state import StateFile, ValueFile, rsc_tmp

from .election import (BEST_SCORE, CHANGE_TOLERANCE, FORCED_SCORE, NOTHING, PROMOTED_SCORE,
                       Freshness, judge, lag_text, moved, parse_all, promotable_text, rank)
from .hold import WITHOUT_CHUNKSERVERS_SECONDS

HWM_REFRESH_SECONDS = 60    # the Promoted monitor looks at its version at most this often
HWM_WRITE_SECONDS = 10      # a write of the mark is retried this long before it fails
HWM_WRITE_RETRY_SECONDS = 0.5
PEER_WAIT_SECONDS = 5       # promote waits this long for a peer's published freshness
RERANK_SECONDS = 30         # an Unpromoted monitor re-reads its peers at most this often
READ_BUDGET_SECONDS = 10    # a monitor reads changelogs at most this long, then goes on next time
HEALTH_SECONDS = 5          # a Promoted monitor fails when mfsmaster does not answer in this
HOLE_RESTART_SECONDS = 300  # a metalogger with a hole in its files is restarted at most this often
READING = "reading"  # an inspection's verdict while a monitor has not read every changelog

LONGDESC = """\
Runs the MooseFS metadata server (mfsmaster) as a promotable clone.

In the Unpromoted role the node runs mfsmetalogger, which follows the master through
MASTER_HOST in mfsmetalogger.cfg (point it at the virtual IP). Its monitor publishes
the version this node's metadata restores to, so the freshest node is promoted.

Promote stops the metalogger, checks that no peer in the partition holds fresher
metadata and that this node is not below the last version the cluster knows a master
reached, sets aside into a compressed archive (never deletes) files from a history the
cluster has moved past, restores the metadata offline, verifies it and starts mfsmaster.
Demote stops mfsmaster cleanly and starts the metalogger again.

Use it in a promotable clone with notify=true, promoted-max=1 and clone-node-max=1,
colocate an ocf:heartbeat:IPaddr2 virtual IP with the Promoted role, start it after
promote and stop it after demote. Fencing (STONITH) and quorum are required: two
masters would assign the same change ids to different operations.
Both config files must use the same DATA_PATH.

Size the promote timeout to the metadata: a promote reads every changelog in DATA_PATH
(monitors keep a cache, so usually only the newest lines), then MooseFS loads the image
and replays the changelogs. Allow at least 60 s plus twice (changelog MiB / 50 + image
MiB / 200) seconds; 300 s covers about 6 GiB of changelogs. A promote that cannot finish
in its timeout refuses early, before changing anything, and says what to set.

The Promoted monitor asks mfsmaster for its chunkserver list and fails when no answer
comes within 5 s (a stopped or hung master keeps its lock and its sockets).
"""

INFO = AgentInfo(
    name="mfsmaster", version="0.1.0",
    shortdesc="MooseFS metadata server (promotable, freshest node wins)",
    longdesc=LONGDESC,
    parameters=[
        Parameter("master_cfg", "mfsmaster configuration file",
                  "Path of mfsmaster.cfg. DATA_PATH, WORKING_USER, the ports and the other "
                  "settings are read from it.", default="/etc/mfs/mfsmaster.cfg",
                  unique=True),
        Parameter("metalogger_cfg", "mfsmetalogger configuration file",
                  "Path of mfsmetalogger.cfg. Its MASTER_HOST should be the virtual IP and "
                  "its DATA_PATH the same as the master's.",
                  default="/etc/mfs/mfsmetalogger.cfg", unique=True),
        Parameter("archive_dir", "Folder for set-aside files",
                  "Where files that must not take part in a restore are archived "
                  "(compressed). Empty: a folder next to DATA_PATH named DATA_PATH-archive.",
                  default=""),
        Parameter("archive_keep", "Archives to keep",
                  "How many archives to keep; the oldest beyond this are removed.",
                  type=INTEGER, default=20),
        Parameter("archive_max_mb", "Archive size limit (MiB)",
                  "Total size of archives to keep; the oldest beyond it are removed "
                  "(never the newest). 0 means no size limit.", type=INTEGER, default=10240),
        Parameter("allow_new_filesystem", "Create a new file system when none exists",
                  "If true, and no node of the cluster has any metadata and no high-water "
                  "mark was ever recorded, promote creates a brand-new empty MooseFS file "
                  "system. Use for the first start of a new cluster only.",
                  type=BOOLEAN, default=False),
        Parameter("fast_stop", "Stop mfsmaster without its 2-3 s wait",
                  "If true, demote and stop end mfsmaster's data-writer child right after "
                  "SIGTERM, so that the master stores its metadata and exits at once "
                  "instead of after about 3 s; a switchover is that much shorter. The next "
                  "master must reach the version stored, or its promote refuses. Set false "
                  "to let mfsmaster take its own time.", type=BOOLEAN, default=True),
        Parameter("client_hold", "Seconds clients may wait for the chunkservers after a promote",
                  "After a promote, mfsmaster lets clients in only once every chunkserver it "
                  "knows (apart from those in maintenance) has connected again: at most this "
                  "many seconds after the first one did (at most %d s after mfsmaster started "
                  "when none does). A client let in earlier waits 10 s for a chunk whose "
                  "copies are all on a chunkserver not yet back; a client refused meanwhile "
                  "tries again within 2 s. A chunkserver that is down holds clients for the "
                  "whole time. 0 lets clients in at once. Needs mfsmaster.cfg readable by "
                  "WORKING_USER, as mfsmaster reload does." % WITHOUT_CHUNKSERVERS_SECONDS,
                  type=INTEGER, default=3),
        Parameter("allow_data_loss", "Promote even when metadata is not the freshest",
                  "If true, promote proceeds even when a peer holds fresher metadata or this "
                  "node's metadata is below the cluster's high-water mark: the changes in "
                  "between are lost. Set it only to recover by hand, and unset it afterwards.",
                  type=BOOLEAN, default=False),
    ],
    actions=[
        Action("start", 60), Action("stop", 120), Action("promote", 300),
        Action("demote", 120), Action("notify", 30), Action("reload", 30),
        Action("monitor", 30, interval=3, role="Promoted"),
        Action("monitor", 30, interval=11, role="Unpromoted"),
        Action("meta-data", 5), Action("validate-all", 30),
    ])


# --- this node's MooseFS, as configured -------------------------------------------------------
class Site:
    """The config files, data directory and daemons of this node."""

    def __init__(self, ctx: Context) -> None:
        from moosefs import config
        from moosefs.daemons import Master, Metalogger
        try:
            self.master_cfg = config.master(ctx.params.string("master_cfg"))
            self.metalogger_cfg = config.metalogger(ctx.params.string("metalogger_cfg"))
        except config.ConfigError as error:
            raise OCFError(codes.ERR_CONFIGURED, "%s; fix the file or the %s parameter"
                           % (error, "master_cfg/metalogger_cfg")) from None
        self.data_path = self.master_cfg.data_path
        self.master = Master(self.master_cfg.path, self.data_path)
        self.metalogger = Metalogger(self.metalogger_cfg.path, self.metalogger_cfg.data_path)

    def config_warnings(self) -> list[str]:
        return self.master_cfg.warnings() + self.metalogger_cfg.warnings()

    def archiver(self, ctx: Context):
        from moosefs.archive import Archiver, default_folder
        folder = ctx.params.string("archive_dir") or default_folder(self.data_path)
        return Archiver(folder, keep_count=max(1, ctx.params.integer("archive_keep")),
                        keep_bytes=max(0, ctx.params.integer("archive_max_mb")) << 20)

    def client_address(self) -> tuple[str, int]:
        return (self.master_cfg.get("MATOCL_LISTEN_HOST"),
                self.master_cfg.integer("MATOCL_LISTEN_PORT"))

    def serving(self) -> bool:
        from moosefs.daemons import serving
        return serving(*self.client_address())


def _site_or_none(ctx: Context) -> Site | None:
    """For probes and stop: a node without config files runs nothing of ours."""
    if not os.path.exists(ctx.params.string("master_cfg")):
        return None
    return Site(ctx)


# --- names and local state --------------------------------------------------------------------
def freshness_attribute(ctx: Context) -> str:
    return "mfsha-%s-freshness" % ctx.env.resource_name


def stamp_attribute(ctx: Context) -> str:
    """When the newest change a node holds was made (from its changelog), for the lag in
    seconds; apart from the freshness, whose format every agent version reads."""
    return "mfsha-%s-stamp" % ctx.env.resource_name


SHOWN = ("version", "lag", "promotable")  # public attributes: crm_mon -A shows them


def shown_attribute(ctx: Context, what: str) -> str:
    return "mfsha-%s-%s" % (ctx.env.resource_name, what)


def show(ctx: Context, **values: str) -> None:
    """Public node attributes for crm_mon -A, written only when their text changed."""
    state = local_state(ctx)
    remembered = state.read()
    for what, value in values.items():
        if remembered.get("shown_" + what) != value and \
                ctx.cluster.set_public(shown_attribute(ctx, what), value):
            state.update(**{"shown_" + what: value})


def hwm_property(ctx: Context) -> str:
    return "mfsha-%s-hwm" % ctx.env.resource_name


def local_state(ctx: Context) -> StateFile:
    return StateFile(rsc_tmp(ctx.env.environ), "mfsha-%s.state" % ctx.env.resource_name)


def yield_mark(ctx: Context) -> StateFile:
    """Kept apart from local_state, which stop and start clear: a refused promote is
    followed by stop and start, and the node must still yield after them (to a fresher
    peer, `version`, or because its own files failed, `restore_failed`)."""
    return StateFile(rsc_tmp(ctx.env.environ), "mfsha-%s.yield" % ctx.env.resource_name)


def own_freshness(ctx: Context, site: Site, hwm: Freshness | None, budget_s: float | None = None):
    """(Freshness or None, inspection) of this node's data directory, read with what
    the cluster knows of its history (the high-water mark). Changelogs are read line by
    line, as the restore reads them, so that a hole or a jump inside one is seen and
    the version is the one the restore reaches; a cache in HA_RSCTMP keeps what earlier
    inspections read, so only appended lines are read. With `budget_s` (monitors) the
    reading stops after that many seconds, the node counts as having nothing to offer
    yet, and the next inspection reads on."""
    from moosefs.inspect import inspect
    store, scans = scan_cache(ctx, budget_s)
    found = inspect(site.data_path, known=hwm.known(ctx.env.node_name) if hwm else None,
                    scans=scans)
    if scans.bytes_read or set(scans.data) != scans.seen:
        store.write(scans.pruned())
    if scans.incomplete:
        found.verdict = READING
        found.reason = "changelogs not read to the end yet (%.0f MiB read this time)" % (
            scans.bytes_read / 2**20)
        return None, found
    if not found.restorable:
        return None, found
    return Freshness(found.version, found.metaid), found


def reading_budget(ctx: Context) -> float:
    """How long a monitor or notification may read changelogs (after a reboot the cache
    is empty and DATA_PATH may hold gigabytes of them)."""
    return min(READ_BUDGET_SECONDS, ctx.deadline.remaining() / 2)


def scan_cache(ctx: Context, budget_s: float | None = None):
    """(its file, the cache) of what inspections here read of the changelogs."""
    from moosefs.files import ScanCache
    store = ValueFile(rsc_tmp(ctx.env.environ), "mfsha-%s.scans" % ctx.env.resource_name)
    until = time.monotonic() + budget_s if budget_s is not None else None
    return store, ScanCache(store.read(), until)


def check_inspection_time(ctx: Context, site: Site) -> None:
    """Refuse a promote whose inspection alone cannot finish in time: after a reboot the
    cache is empty, and every changelog is read line by line."""
    from moosefs.inspect import list_files
    from moosefs.restore import SCAN_BYTES_PER_S
    _, scans = scan_cache(ctx)
    try:
        unread = scans.unread_bytes(site.data_path, list_files(site.data_path)[1])
    except OSError:
        return  # the inspection reports an unreadable folder
    needed = unread / SCAN_BYTES_PER_S
    if needed > ctx.deadline.remaining() / 2:
        refuse_promotion(ctx, site, "the inspection alone must read %.0f MiB of changelogs "
                         "(about %.0f s) and only %.0f s of the promote's timeout remain; "
                         "nothing was changed: set the promote timeout to at least %.0f s"
                         % (unread / 2**20, needed, ctx.deadline.remaining(),
                            4 * needed + 60))


def cached_hwm(state: dict[str, str]) -> Freshness | None:
    """The mark as this node last read or wrote it: a hint for ranking and for the
    metalogger's start, never the base of a safety rule or of a write."""
    return Freshness.parse(state.get("hwm"))


def read_hwm(ctx: Context) -> Freshness | None:
    """The high-water mark as the CIB holds it now (None: never recorded), remembered
    locally. ClusterUnreachable when it could not be read, or is set but unreadable:
    a rule that depends on it then refuses instead of taking it as absent."""
    text = ctx.cluster.get_property(hwm_property(ctx))
    mark = Freshness.parse(text)
    if text is not None and mark is None:
        raise ClusterUnreachable("the cluster property %s holds %r, not VERSION:METADATA_ID"
                                 "[:NODE:FINGERPRINT]" % (hwm_property(ctx), text))
    local_state(ctx).update(hwm=mark.text() if mark else "")
    return mark


def refresh_hwm(ctx: Context) -> Freshness | None:
    """The mark for hints (ranking, notifications): the CIB's, or the last one seen
    when the CIB could not be read."""
    try:
        return read_hwm(ctx)
    except ClusterUnreachable as error:
        ctx.log.warning("high-water mark not read (%s); using the last one seen" % error)
        return cached_hwm(local_state(ctx).read())


def record_hwm(ctx: Context, site: Site, version: int, metaid: int) -> None:
    """Raise the mark to `version`, which this master reached, when the CIB's mark is
    lower: the comparison is against the CIB, never the local copy, so a node whose
    copy is empty (after a reboot) cannot lower it. ClusterUnreachable when the mark
    could not be read or written."""
    mark = read_hwm(ctx)
    if mark is not None and mark.version >= version and (mark.metaid or not metaid):
        return
    write_hwm(ctx, site, version, metaid)


def write_hwm(ctx: Context, site: Site, version: int, metaid: int) -> None:
    """Write the mark (this node, as master, reached `version`, with the fingerprint of
    its last change), retried for at most HWM_WRITE_SECONDS. ClusterUnreachable when
    it could not be written: the mark must never silently keep naming an older master."""
    from moosefs.inspect import change_fingerprint
    reached = Freshness(version, metaid, ctx.env.node_name,
                        change_fingerprint(site.data_path, version))
    until = ctx.deadline.sub(HWM_WRITE_SECONDS)
    while not ctx.cluster.set_property(hwm_property(ctx), reached.text()):
        if not ctx.cluster.expected():
            ctx.log.warning("no cluster runs here: the high-water mark is not recorded")
            return
        if until.remaining() < HWM_WRITE_RETRY_SECONDS:
            raise ClusterUnreachable("the high-water mark %s was not written" % reached.text())
        time.sleep(HWM_WRITE_RETRY_SECONDS)
    local_state(ctx).update(hwm=reached.text())


def promoted_here(ctx: Context) -> bool:
    """Did this agent promote the master running here? Only such a master writes the
    mark: one started by hand or at boot, from whatever image, never does."""
    return bool(local_state(ctx).read().get("promoted"))


def set_score(ctx: Context, score: int | None) -> None:
    """Set (or remove) this node's promotion score, calling the cluster only on change."""
    state = local_state(ctx)
    wanted = "" if score is None else str(score)
    if state.read().get("score") == wanted:
        return
    done = ctx.cluster.delete_promotion_score() if score is None \
        else ctx.cluster.set_promotion_score(score)
    if done:
        state.update(score=wanted)


def publish_freshness(ctx: Context, site: Site, force: bool = False,
                      rank_now: bool = True):
    """Publish this Unpromoted node's freshness when it changed, and rank it against the
    peers' published values. Peers are re-read every RERANK_SECONDS, or when forced
    (start, demote, a refused promote); in between a cached copy serves. Scores are hints:
    promote compares exactly.
    `rank_now=False` (pre-promote): publish only the private freshness the promoting
    node checks, and leave the score and the public attributes to the next monitor.
    Those live in the CIB, and each change there aborts the transition under way, so
    that Pacemaker would run the pre-promote notifications again before promoting.
    Returns the inspection of this node's files."""
    state = local_state(ctx)
    remembered = state.read()
    own, found = own_freshness(ctx, site, cached_hwm(remembered), reading_budget(ctx))
    # "0:0" says "nothing to offer", so that a promote elsewhere need not wait for us.
    value = (own or NOTHING).text()
    published = remembered.get("published")
    own_stamp = int(remembered.get("published_stamp") or 0)
    changed = moved(Freshness.parse(published), own or NOTHING)
    if changed or force:
        if own is None:
            ctx.log.info("no promotable metadata here: %s" % found.summary())
        # Remembered only once attrd has it, so a failed publication is retried.
        if ctx.cluster.set_private(freshness_attribute(ctx), value):
            published, own_stamp = value, found.newest_stamp
            ctx.cluster.set_private(stamp_attribute(ctx), str(own_stamp))
            state.update(published=published, published_stamp=str(own_stamp))
    if not rank_now:
        state.update(peers_at="0")  # the next monitor ranks
        return found
    stale = time.time() - float(remembered.get("peers_at") or 0) >= RERANK_SECONDS
    if force or stale:
        try:
            peers = peer_freshness(ctx, exclude=ctx.env.node_name)
            stamps = {node: text for node, text in ctx.cluster.query_private_all(
                stamp_attribute(ctx)).items() if text.isdigit()}
        except ClusterUnreachable as error:
            # Scores are hints (promote asks again); keep them until peers can be read.
            ctx.log.warning("peers' freshness not read, rank unchanged: %s" % error)
            return found
        state.update(peers=_pairs_text({n: v.text() for n, v in peers.items()}),
                     stamps=_pairs_text(stamps), peers_at="%d" % time.time())
    elif changed:
        peers = parse_all(_pairs(remembered.get("peers", "")))
        stamps = _pairs(remembered.get("stamps", ""))
    else:
        return found
    hwm = cached_hwm(remembered)
    yielding = yield_mark(ctx).read()
    score, why = rank(own, found.verdict == "empty", hwm, peers,
                      ctx.params.boolean("allow_data_loss"),
                      ctx.params.boolean("allow_new_filesystem"),
                      int(yielding.get("version") or 0))
    if yielding.get("restore_failed") == value:
        score, why = None, "its last promote failed on these files"
    set_score(ctx, score)
    # What crm_mon -A shows: the published (coarse) values, so nothing churns.
    shown = Freshness.parse(published) or NOTHING
    highest = max([p.version for p in peers.values()] + [hwm.version if hwm else 0])
    newest_stamp = max([int(t) for t in stamps.values()] + [own_stamp])
    show(ctx, version=str(shown.version) if shown.version else "none",
         lag=lag_text(highest - shown.version, newest_stamp - own_stamp if own_stamp else None)
         if shown.version else "-",
         promotable=promotable_text(score, why))
    return found


def _pairs_text(values: dict[str, str]) -> str:
    return " ".join("%s=%s" % item for item in sorted(values.items()))


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def peer_freshness(ctx: Context, exclude: str) -> dict[str, Freshness]:
    values = ctx.cluster.query_private_all(freshness_attribute(ctx))
    return parse_all({node: text for node, text in values.items() if node != exclude})


def partition_peers(ctx: Context, own: Freshness | None) -> dict[str, Freshness]:
    """Peers in our partition with their published freshness, waiting briefly for the
    ones pre-promote said were Unpromoted."""
    me = ctx.env.node_name
    members = ctx.cluster.partition_nodes()
    expected = set(local_state(ctx).read().get("expected_peers", "").split()) - {me}
    if members is not None:
        expected &= set(members)
    until = time.monotonic() + min(PEER_WAIT_SECONDS, ctx.deadline.remaining() / 4)
    while True:
        peers = peer_freshness(ctx, exclude=me)
        if members is not None:
            peers = {n: v for n, v in peers.items() if n in members}
        missing = expected - set(peers)
        if not missing or time.monotonic() >= until:
            break
        time.sleep(0.2)
    if missing:
        ctx.log.warning("no freshness published by %s; promoting without it"
                        % ", ".join(sorted(missing)))
    if own is not None:
        peers = {n: v for n, v in peers.items() if v.same_filesystem(own)}
    return peers


# --- actions ----------------------------------------------------------------------------------
def check_clone(ctx: Context) -> None:
    env = ctx.env
    if not env.is_clone:
        return
    problems = []
    if not env.promotable:
        problems.append("promotable=true")
    if not env.notify_enabled:
        problems.append("notify=true")
    if env.promoted_max != 1:
        problems.append("promoted-max=1 (is %d)" % env.promoted_max)
    if env.clone_node_max != 1:
        problems.append("clone-node-max=1 (is %d)" % env.clone_node_max)
    if problems:
        raise OCFError(codes.ERR_CONFIGURED, "the clone of %s needs meta attributes %s"
                       % (env.resource_name, ", ".join(problems)))


def check_local(ctx: Context, report_config: bool = False) -> Site:
    """The local checks of validate-all (OCF_CHECK_LEVEL 10) and of start; with
    `report_config`, unknown config keys are logged (MooseFS ignores them)."""
    from ocf.proc import have_binary
    for binary in ("mfsmaster", "mfsmetalogger"):
        if not have_binary(binary):
            raise OCFError(codes.ERR_INSTALLED, "%s is not installed (package moosefs-%s)"
                           % (binary, binary[3:]))
    site = Site(ctx)
    if report_config:
        for warning in site.config_warnings():
            ctx.log.warning(warning)
    if site.metalogger_cfg.data_path != site.data_path:
        raise OCFError(codes.ERR_CONFIGURED, "DATA_PATH differs: %s in %s, %s in %s; use the "
                       "same directory for both" % (site.data_path, site.master_cfg.path,
                                                    site.metalogger_cfg.data_path,
                                                    site.metalogger_cfg.path))
    check_data_path(site)
    return site


def check_data_path(site: Site) -> None:
    import pwd
    user = site.master_cfg.working_user
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        raise OCFError(codes.ERR_CONFIGURED, "WORKING_USER %s in %s does not exist"
                       % (user, site.master_cfg.path)) from None
    try:
        stat = os.stat(site.data_path)
    except OSError:
        raise OCFError(codes.ERR_CONFIGURED, "DATA_PATH %s does not exist; create it owned "
                       "by %s" % (site.data_path, user)) from None
    if not os.path.isdir(site.data_path) or stat.st_uid != uid:
        raise OCFError(codes.ERR_CONFIGURED, "DATA_PATH %s must be a directory owned by %s"
                       % (site.data_path, user))


def action_validate(ctx: Context) -> int:
    check_clone(ctx)
    if ctx.env.check_level >= 10:
        check_local(ctx, report_config=True)
        from moosefs.generation import GenerationError, detect
        try:
            detect(timeout=ctx.deadline.remaining())
        except GenerationError as error:
            raise OCFError(codes.ERR_INSTALLED, str(error)) from None
    return codes.SUCCESS


def action_monitor(ctx: Context) -> int:
    from ocf.proc import have_binary
    probe = ctx.env.is_probe
    if not have_binary("mfsmaster") and probe:
        return codes.NOT_RUNNING
    site = _site_or_none(ctx)
    if site is None:
        if probe:
            return codes.NOT_RUNNING
        raise OCFError(codes.ERR_CONFIGURED, "%s does not exist" % ctx.params.string("master_cfg"))
    state = local_state(ctx)
    master_pid = site.master.pid()
    if master_pid:
        remembered = state.read()
        if (remembered.get("hold_port") or remembered.get("hold_note")) and not probe:
            client_hold(ctx, site, state).upkeep(master_pid, remembered)
            remembered = state.read()
        if not probe:
            check_master_answers(ctx, site, master_pid, remembered)
        if site.metalogger.pid():
            ctx.log.warning("mfsmetalogger runs beside mfsmaster on this node")
        if not probe:
            keep_promoted(ctx, site, state, remembered)
        return codes.RUNNING_PROMOTED
    if state.read().get("promoted"):
        raise OCFError(codes.FAILED_PROMOTED, "mfsmaster died on this Promoted node (data "
                       "%s); Pacemaker will recover it" % site.data_path)
    if site.metalogger.pid():
        if not probe:
            found = publish_freshness(ctx, site)
            if found is not None and found.verdict == "hole" and found.source == "metalogger":
                restart_holed_metalogger(ctx, site, found)
        return codes.SUCCESS
    return codes.NOT_RUNNING


def serving_clients(site: Site, state: StateFile) -> bool:
    """Does the master accept clients (at its loopback port while it holds them off)?"""
    from moosefs.clienthold import HOLD_HOST
    from moosefs.daemons import serving
    held_port = state.read().get("hold_port")
    return site.serving() or bool(held_port) and serving(HOLD_HOST, int(held_port))


def client_hold(ctx: Context, site: Site, state: StateFile):
    """This instance's client hold (mfsha.hold), its config copy in HA_RSCTMP."""
    from .hold import Hold
    copy = os.path.join(rsc_tmp(ctx.env.environ), "mfsha-%s-mfsmaster.cfg"
                        % ctx.env.resource_name)
    return Hold(ctx, site, state, copy)


def restart_holed_metalogger(ctx: Context, site: Site, found) -> None:
    """A metalogger that connected to a new master after its first changes, before that
    master flushed its changelog, misses them for good (seen with MooseFS 4.57: a hole
    right after the image). Restarted, it downloads the image and the master's
    changelogs again, which close the hole. At most once per HOLE_RESTART_SECONDS."""
    state = local_state(ctx)
    if time.time() - float(state.read().get("hole_restart_at") or 0) < HOLE_RESTART_SECONDS:
        return
    state.update(hole_restart_at="%d" % time.time())
    ctx.log.warning("metalogger files have a hole (%s): restarting mfsmetalogger so that it "
                    "downloads them again" % found.reason)
    site.metalogger.stop(ctx.deadline.remaining() / 2)
    start_metalogger(ctx, site)


def check_master_answers(ctx: Context, site: Site, pid: int, remembered: dict[str, str]) -> None:
    """Fail the monitor unless the master answers a request within HEALTH_SECONDS (at
    its loopback port while it holds clients off). A stopped, deadlocked or I/O-bound
    master keeps its lock and its listening sockets, so neither proves it serves."""
    from moosefs.chunkservers import ListError, Refused, check_answers
    from moosefs.clienthold import HOLD_HOST
    held_port = remembered.get("hold_port")
    # While clients are held off the master listens at a loopback port; the helper
    # that lets them in moves it to the client port just before it clears hold_port.
    addresses = ([(HOLD_HOST, int(held_port))] if held_port else []) + [site.client_address()]
    bound = min(HEALTH_SECONDS, max(0.5, ctx.deadline.remaining() / 2))
    for host, port in addresses:
        try:
            check_answers(host, port, bound)
            return
        except Refused as error:
            failure = str(error)
        except ListError as error:
            failure = str(error)
            break
    raise OCFError(codes.FAILED_PROMOTED, "mfsmaster (pid %d) holds its lock but did not "
                   "answer within %.1f s: %s" % (pid, bound, failure))


def keep_promoted(ctx: Context, site: Site, state: StateFile, remembered: dict[str, str]) -> None:
    """The Promoted monitor's upkeep: the score, and a high-water mark that covers every
    change no standby holds. While every standby's metalogger keeps up, they hold the
    master's changes and the mark is raised only by more than CHANGE_TOLERANCE, once a
    minute at most; while one falls behind or is missing, the mark follows the master
    at every monitor."""
    set_score(ctx, PROMOTED_SCORE)
    if not remembered.get("promoted"):
        adopt_master(ctx, site, state)
        return
    lagging = standbys_lagging(ctx, site, state, remembered)
    # Logged and stored on a change only: the text's byte counts move every monitor.
    if bool(lagging) != bool(remembered.get("lagging")):
        (ctx.log.warning if lagging else ctx.log.info)(
            "standbys: %s" % (lagging + "; the high-water mark follows the master"
                              if lagging else "every standby keeps up again"))
        state.update(lagging="1" if lagging else "")
    due = time.time() - float(remembered.get("hwm_checked_at") or 0) >= HWM_REFRESH_SECONDS
    if not lagging and not due:
        return
    known = cached_hwm(remembered)
    own, _ = own_freshness(ctx, site, known, reading_budget(ctx))
    margin = 0 if lagging else CHANGE_TOLERANCE
    if own is not None and (known is None or own.version > known.version + margin
                            or not own.same_filesystem(known)):
        try:
            record_hwm(ctx, site, own.version, own.metaid)
        except ClusterUnreachable as error:
            ctx.log.warning("high-water mark not raised to %d: %s" % (own.version, error))
    if due:
        shown = remembered.get("shown_version", "")
        if own is not None and (not shown.isdigit()
                                or abs(own.version - int(shown)) > CHANGE_TOLERANCE):
            show(ctx, version=str(own.version))
        state.update(hwm_checked_at="%d" % time.time())


def standbys_lagging(ctx: Context, site: Site, state: StateFile,
                     remembered: dict[str, str]) -> str:
    """Why the standbys may not hold every change ("" when they do): fewer metalogger
    streams keep up than the standbys the promote knew (at least one). The streams
    found are remembered, so that the next monitor looks up just those."""
    from moosefs.followers import check
    expected = max(1, len(remembered.get("expected_peers", "").split()))
    found = check(site.master_cfg.integer("MATOML_LISTEN_PORT"),
                  remembered.get("streams", "").split(), expected)
    keys = " ".join(sorted(s.key for s in found))
    if keys != remembered.get("streams", ""):
        state.update(streams=keys)
    good = [s for s in found if not s.stalled]
    stalled = [s for s in found if s.stalled]
    if len(good) >= expected:
        return ""
    text = "%d of %d metalogger streams keep up" % (len(good), expected)
    if stalled:
        text += " (stalled: %s)" % ", ".join("%s with %d bytes unacknowledged"
                                             % (s.peer, s.unacked) for s in stalled)
    return text


def adopt_master(ctx: Context, site: Site, state: StateFile) -> None:
    """A Promoted monitor of a master this agent did not promote (started by hand or at
    boot, then found by a probe): it serves only if its metadata is at the cluster's
    high-water mark, of the same file system; it never writes the mark."""
    try:
        hwm = read_hwm(ctx)
    except ClusterUnreachable as error:
        raise OCFError(codes.FAILED_PROMOTED, "mfsmaster runs here but was not promoted by "
                       "this agent, and the high-water mark could not be read (%s)"
                       % error) from None
    own, found = own_freshness(ctx, site, hwm, reading_budget(ctx))
    if found.verdict == READING:
        ctx.log.info("mfsmaster runs here, not promoted by this agent: %s" % found.reason)
        return
    if hwm is not None and (own is None or own.version < hwm.version
                            or not own.same_filesystem(hwm)):
        raise OCFError(codes.FAILED_PROMOTED, "mfsmaster runs here but was not promoted by "
                       "this agent, and its metadata (%s) is below the cluster's high-water "
                       "mark %s" % (found.summary(), hwm.text()))
    ctx.log.warning("mfsmaster runs here, not promoted by this agent; its metadata (%s) "
                    "reaches the high-water mark, so it is kept" % found.summary())
    state.update(promoted="1")


def start_metalogger(ctx: Context, site: Site) -> None:
    from moosefs.daemons import DaemonError
    from moosefs.restore import RestoreError, prepare_for_metalogger
    hwm = cached_hwm(local_state(ctx).read())
    # The mark lags the master (CHANGE_TOLERANCE changes; on a busy cluster up to a
    # minute): beyond that a copy is kept, needless at worst.
    master_at_most = hwm.version + CHANGE_TOLERANCE if hwm else None
    try:
        archive = prepare_for_metalogger(site.data_path, site.archiver(ctx),
                                         hwm.known(ctx.env.node_name) if hwm else None,
                                         master_at_most)
    except RestoreError as error:
        raise OCFError(codes.ERR_GENERIC, "before starting the metalogger: %s" % error) from None
    if archive:
        ctx.log.info("before the metalogger starts, files set aside into %s" % archive)
    try:
        site.metalogger.start(ctx.deadline.remaining())
    except DaemonError as error:
        raise OCFError(codes.ERR_GENERIC, "%s; see the system log of mfsmetalogger" % error) from None


def stop_master(ctx: Context, site: Site) -> None:
    """Stop mfsmaster cleanly (it saves metadata.mfs) and, when this agent promoted it,
    raise the mark to the version it reached. ClusterUnreachable when that version
    could not be recorded."""
    from moosefs.daemons import DaemonError
    from moosefs.files import read_image
    if not site.master.pid():
        return
    ours = promoted_here(ctx)
    with ctx.log.step("master stop") as step:
        try:
            if ctx.params.boolean("fast_stop"):
                clean, fast = site.master.stop_fast(ctx.deadline.remaining())
            else:
                clean, fast = site.master.stop(ctx.deadline.remaining()), False
        except DaemonError as error:
            raise OCFError(codes.ERR_GENERIC, str(error)) from None
        step.note = ("clean" if clean else "killed") + (", data writer ended at once"
                                                         if fast else "")
    if not clean:
        ctx.log.warning("mfsmaster did not stop in time and was killed; it saved no image")
        return
    image = read_image(os.path.join(site.data_path, "metadata.mfs"))
    if not image.valid:
        return
    ctx.log.info("mfsmaster stopped cleanly at version %d" % image.version)
    if ours:
        record_hwm(ctx, site, image.version, image.metaid)
    else:
        ctx.log.warning("mfsmaster was not promoted by this agent: version %d is not "
                        "recorded as the cluster's high-water mark" % image.version)


def action_start(ctx: Context) -> int:
    check_clone(ctx)
    site = check_local(ctx, report_config=True)
    if site.master.pid():
        ctx.log.warning("mfsmaster already runs here outside the Promoted role; stopping it")
        local_state(ctx).update(promoted="")
        stop_master(ctx, site)
    local_state(ctx).remove()
    refresh_hwm(ctx)
    if not site.metalogger.pid():
        start_metalogger(ctx, site)
    publish_freshness(ctx, site, force=True)
    return codes.SUCCESS


def action_stop(ctx: Context) -> int:
    from moosefs.daemons import DaemonError
    site = _site_or_none(ctx)
    if site is not None:
        try:
            stop_master(ctx, site)
        except ClusterUnreachable as error:
            # Failing the stop would only get this node fenced; the version stays in
            # its metadata.mfs, and the node ranks with it when it comes back.
            ctx.log.error("the version mfsmaster reached is not recorded: %s" % error)
        try:
            site.metalogger.stop(ctx.deadline.remaining())
        except DaemonError as error:
            raise OCFError(codes.ERR_GENERIC, str(error)) from None
    ctx.cluster.delete_promotion_score()
    for name in [freshness_attribute(ctx), stamp_attribute(ctx)] + \
            [shown_attribute(ctx, what) for what in SHOWN]:
        ctx.cluster.delete_attribute(name)
    local_state(ctx).remove()
    return codes.SUCCESS


def refuse_promotion(ctx: Context, site: Site, reason: str) -> None:
    """Go back to the Unpromoted state promote found, then fail it with `reason`.
    The node is ranked again at once: pre-promote no longer does it, and with its old
    score Pacemaker would retry the promote here until the next monitor."""
    if local_state(ctx).read().get("metalogger_before_promote") and not site.metalogger.pid():
        try:
            start_metalogger(ctx, site)
        except OCFError as error:
            reason += " (and the metalogger did not start again: %s)" % error.reason
    publish_freshness(ctx, site, force=True)
    raise OCFError(codes.ERR_GENERIC, reason)


def elect(ctx: Context, site: Site, own: Freshness | None, found, hwm: Freshness | None) -> None:
    """Refuse unless this node may be promoted (mfsha.election.judge decides)."""
    allow_loss = ctx.params.boolean("allow_data_loss")
    try:
        peers = partition_peers(ctx, own)
    except ClusterUnreachable as error:
        refuse_promotion(ctx, site, "could not ask the cluster for its members' freshness "
                         "(%s); not promoting without it" % error)
    verdict = judge(own, found.verdict, found.reason, site.data_path, hwm, peers, allow_loss,
                    ctx.params.boolean("allow_new_filesystem"), hwm_property(ctx))
    if verdict.fresher_node:
        # Hand the promotion to the fresher node, and keep out of its way until then.
        ctx.cluster.set_promotion_score(BEST_SCORE, node=verdict.fresher_node)
        set_score(ctx, FORCED_SCORE)
        yield_mark(ctx).update(**{"version": str(verdict.fresher_version),
                               "to": verdict.fresher_node})
    if verdict.refusal:
        refuse_promotion(ctx, site, verdict.refusal)


def action_promote(ctx: Context) -> int:
    """Each step is logged with its duration, so that an administrator sees where a
    failover's time went."""
    site = check_local(ctx)
    state = local_state(ctx)
    if site.master.pid() and promoted_here(ctx) and serving_clients(site, state):
        return codes.SUCCESS
    if site.master.pid():
        ctx.log.warning("mfsmaster runs here, not promoted by this agent: stopping it to "
                        "promote through the election")
        stop_master(ctx, site)
    started = time.monotonic()
    state.update(metalogger_before_promote="1" if site.metalogger.pid() else "")
    with ctx.log.step("metalogger stop"):
        site.metalogger.stop(ctx.deadline.remaining() / 4)  # a clean stop flushes its last lines
    with ctx.log.step("inspection") as step:
        check_inspection_time(ctx, site)
        try:
            hwm = read_hwm(ctx)
        except ClusterUnreachable as error:
            step.note = "high-water mark unknown"
            refuse_promotion(ctx, site, "could not read the cluster's high-water mark (%s); "
                             "not promoting without it" % error)
        own, found = own_freshness(ctx, site, hwm)
        step.note = "%s; high-water mark %s" % (found.summary(), hwm.text() if hwm else "none")
    with ctx.log.step("election"):
        elect(ctx, site, own, found, hwm)
    result = restore_metadata(ctx, site, own, hwm)
    # before the records' thread: both write the local state
    hold = client_hold(ctx, site, state)
    held_port = hold.prepare(result.generation.version[0] if result.generation else 0)
    # The cluster learns of the promotion while mfsmaster loads: its records do not
    # wait for the master, and the virtual IP waits for promote to return.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as background:
        records = background.submit(record_promotion, ctx, site, result.version, result.metaid)
        try:
            start_master(ctx, site, held_port, hold.cfg_copy)
        except OCFError:
            own_data_failed(ctx, own)
            raise
        try:
            records.result()  # an error in the records is the promote's
        except ClusterUnreachable as error:
            undo_promotion(ctx, site, "the cluster did not record this promotion (%s)"
                           % error)
    if held_port:
        hold.start_helper(site.master.pid())
    ctx.log.info("promoted: metadata restored to version %d, mfsmaster serving (%.3f s in all)"
                 % (result.version, time.monotonic() - started))
    return codes.SUCCESS


def record_promotion(ctx: Context, site: Site, version: int, metaid: int) -> None:
    """What the cluster learns of a promotion, once the metadata is restored to `version`:
    the high-water mark (the cluster follows this node from now; its files reach that
    version), the promotion score, and the attributes a metalogger published, removed.
    Each is one cluster tool call of 30-60 ms, so they run side by side."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial
    with ctx.log.step("cluster records"):
        local_state(ctx).update(promoted="1", published="")
        yield_mark(ctx).remove()
        shown = {"version": str(version), "lag": "0 (master)", "promotable": "promoted"}
        jobs = [partial(write_hwm, ctx, site, version, metaid),
                partial(set_score, ctx, PROMOTED_SCORE),
                partial(ctx.cluster.delete_attribute, freshness_attribute(ctx)),
                partial(ctx.cluster.delete_attribute, stamp_attribute(ctx))]
        jobs += [partial(show, ctx, **{what: text}) for what, text in shown.items()]
        with ThreadPoolExecutor(len(jobs)) as pool:
            for running in [pool.submit(job) for job in jobs]:
                running.result()  # an error in any of them is the promote's


def undo_promotion(ctx: Context, site: Site, reason: str) -> None:
    """Stop the master a failing promote started and fail with `reason`: a master the
    cluster's records do not name must not serve."""
    from moosefs.daemons import DaemonError
    try:
        site.master.stop(ctx.deadline.remaining() / 2)
    except DaemonError as error:
        reason += "; and mfsmaster did not stop: %s" % error
    local_state(ctx).update(promoted="")
    refuse_promotion(ctx, site, reason + "; mfsmaster stopped again")


def restore_metadata(ctx: Context, site: Site, own: Freshness | None, hwm: Freshness | None):
    """The safe restore (moosefs.restore); a refusal fails the promote, back as it was,
    and this node is not promotable again until its files change."""
    from moosefs.restore import RestoreError, TooLittleTime, restore
    create = own is None
    enforce = hwm is not None and not ctx.params.boolean("allow_data_loss")
    with ctx.log.step("restore") as step:
        try:
            result = restore(site.master_cfg, ctx.deadline, site.archiver(ctx),
                             allow_create=create, expect_metaid=hwm.metaid if enforce else 0,
                             minimum_version=hwm.version if enforce else 0,
                             known=hwm.known(ctx.env.node_name) if hwm else None,
                             scans=scan_cache(ctx)[1])
        except TooLittleTime as error:
            step.note = str(error)
            refuse_promotion(ctx, site, str(error))
        except RestoreError as error:
            step.note = str(error)
            own_data_failed(ctx, own)
            refuse_promotion(ctx, site, "restore failed: %s" % error)
        step.note = "restored to version %d; %s (%.3f s)" % (
            result.version, " ".join(result.command) or "new empty file system",
            result.command_seconds)
    if result.archive:
        ctx.log.info("files set aside before the restore: %s" % result.archive)
    return result


def own_data_failed(ctx: Context, own: Freshness | None) -> None:
    """This node's promote failed on its own files: it ranks "not promotable" at once
    (Pacemaker promotes the next node in the same failover) and stays so while its
    freshness is the one that failed."""
    yield_mark(ctx).update(restore_failed=(own or NOTHING).text())
    set_score(ctx, None)


def start_master(ctx: Context, site: Site, held_port: int = 0, cfg_copy: str = "") -> None:
    """Start mfsmaster and wait for its first accepted client connection; with
    `held_port`, from the closed config `cfg_copy`, at that loopback port (mfsha.hold)."""
    from moosefs.clienthold import HOLD_HOST
    from moosefs.daemons import DaemonError, wait_serving
    with ctx.log.step("master start") as step:
        try:
            site.master.start(ctx.deadline.remaining(),
                              cfg_path=cfg_copy if held_port else None)
        except DaemonError as error:
            raise OCFError(codes.ERR_GENERIC, "%s; see the system log of mfsmaster"
                           % error) from None
        step.note = "pid %d" % site.master.pid()
    host, port = (HOLD_HOST, held_port) if held_port else site.client_address()
    with ctx.log.step("first accepted connection") as step:
        step.note = "port %d" % port + (" (clients held off)" if held_port else "")
        if not wait_serving(host, port, ctx.deadline):
            raise OCFError(codes.ERR_GENERIC, "mfsmaster started but does not accept "
                           "connections on port %d" % port)


def action_demote(ctx: Context) -> int:
    site = check_local(ctx)
    started = time.monotonic()
    try:
        stop_master(ctx, site)
    except ClusterUnreachable as error:
        raise OCFError(codes.ERR_GENERIC, "mfsmaster stopped, but the version it reached "
                       "is not recorded: %s" % error) from None
    local_state(ctx).update(promoted="", score="", hold_port="")
    if not site.metalogger.pid():
        with ctx.log.step("metalogger start"):
            start_metalogger(ctx, site)
    publish_freshness(ctx, site, force=True)
    ctx.log.info("demoted (%.3f s in all)" % (time.monotonic() - started))
    return codes.SUCCESS


def action_notify(ctx: Context) -> int:
    """Keep freshness current around promotions. Never waits: Pacemaker ignores notify
    results, and a notify that waits only delays the transition."""
    note = ctx.notification
    me = ctx.env.node_name
    if note.key == "pre-promote":
        site = _site_or_none(ctx)
        if site is not None and site.metalogger.pid() and not site.master.pid():
            refresh_hwm(ctx)
            publish_freshness(ctx, site, force=True, rank_now=False)
            keep_history_ahead_of(ctx, site, note.unames["promote"])
        if me in note.unames["promote"]:
            peers = set(note.unames["unpromoted"]) | set(note.unames["start"])
            local_state(ctx).update(expected_peers=" ".join(sorted(peers - {me})))
    elif note.key == "post-promote":
        release_yield_mark(ctx, refresh_hwm(ctx))
    elif note.key == "post-demote":
        refresh_hwm(ctx)
    return codes.SUCCESS


def release_yield_mark(ctx: Context, hwm: Freshness | None) -> None:
    """Rank normally again once another node was promoted at least as fresh as the peer
    this node yielded to. Post-promote notifications come also after a promote that
    failed: only the high-water mark, which a successful promote writes, tells."""
    mark = yield_mark(ctx)
    wanted = int(mark.read().get("version") or 0)
    if wanted and hwm is not None and hwm.node not in ("", ctx.env.node_name) \
            and hwm.version >= wanted:
        mark.remove()


def keep_history_ahead_of(ctx: Context, site: Site, promoted: list[str]) -> None:
    """Before a node below this one is promoted (allow_data_loss), archive a copy of this
    running metalogger's files: on reconnecting it would delete them."""
    from moosefs.restore import RestoreError, copy_if_ahead
    try:
        peers = peer_freshness(ctx, exclude=ctx.env.node_name)
    except ClusterUnreachable as error:
        ctx.log.warning("peers' freshness not read before a promotion: %s" % error)
        return
    target = peers.get(promoted[0]) if promoted else None
    if target is None:
        return
    hwm = cached_hwm(local_state(ctx).read())
    try:
        archive = copy_if_ahead(site.data_path, site.archiver(ctx),
                                hwm.known(ctx.env.node_name) if hwm else None, target.version)
    except RestoreError as error:
        ctx.log.warning("history ahead of %s not archived: %s" % (promoted[0], error))
        return
    if archive:
        ctx.log.warning("this node's metalogger history is ahead of %s, which is being "
                        "promoted: a copy is in %s (the metalogger will drop it)"
                        % (promoted[0], archive))


def action_reload(ctx: Context) -> int:
    """Every action reads its parameters when it runs, so a changed parameter needs no
    restart. Pacemaker (before OCF 1.1 agents, still in 3.0) calls reload instead of
    restarting every instance when only non-unique parameters changed: deleting
    allow_data_loss after a forced promote no longer demotes the new master. The two
    config paths are unique, so changing them restarts the daemons."""
    ctx.log.info("parameters reloaded: the next action uses them")
    return codes.SUCCESS


HANDLERS = {
    "start": action_start, "stop": action_stop, "monitor": action_monitor,
    "promote": action_promote, "demote": action_demote, "notify": action_notify,
    "validate-all": action_validate, "reload": action_reload,
}


def run() -> None:
    main(INFO, HANDLERS)
