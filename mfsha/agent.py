"""ocf:mfsha:mfsmaster - the MooseFS metadata server as a promotable clone.

Unpromoted: mfsmetalogger runs and follows the master (MASTER_HOST, normally the
virtual IP); the monitor publishes how fresh this node's metadata is (mfsha.standby).
Promoted: mfsmaster runs on metadata restored from this node's files (mfsha.primary).

This module maps OCF actions onto the failover core (the `failover` package) through
the `ocf` helper; what the cluster stores lives in mfsha.store. heartbeat/mfsmaster is
the executable that runs it.
"""
from __future__ import annotations

import os
import time

from failover.election import BEST_SCORE, FORCED_SCORE
from failover.mark import NOTHING, Freshness
from failover.steps import StepFailed
from ocf import codes
from ocf.codes import ClusterUnreachable, OCFError
from ocf.dispatch import Context, main

from . import store
from .info import INFO
from .standby import archiver, publish_freshness


# --- this node's MooseFS, as configured -------------------------------------------------------
def local_node(ctx: Context):
    from moosefs.config import ConfigError
    from moosefs.node import LocalNode
    try:
        return LocalNode(ctx.params.string("master_cfg"), ctx.params.string("metalogger_cfg"))
    except ConfigError as error:
        raise OCFError(codes.ERR_CONFIGURED, "%s; fix the file or the %s parameter"
                       % (error, "master_cfg/metalogger_cfg")) from None


def _node_or_none(ctx: Context):
    """For probes and stop: a node without config files runs nothing of ours."""
    if not os.path.exists(ctx.params.string("master_cfg")):
        return None
    return local_node(ctx)


def rules(ctx: Context):
    return store.rules(ctx.env.resource_name, ctx.params.boolean("allow_data_loss"),
                       ctx.params.boolean("allow_new_filesystem"))


# --- checks -------------------------------------------------------------------------------------
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


def check_local(ctx: Context, report_config: bool = False):
    """The local checks of validate-all (OCF_CHECK_LEVEL 10) and of start; with
    `report_config`, unknown config keys are logged (MooseFS ignores them)."""
    from moosefs.node import LayoutError
    from ocf.proc import have_binary
    for binary in ("mfsmaster", "mfsmetalogger"):
        if not have_binary(binary):
            raise OCFError(codes.ERR_INSTALLED, "%s is not installed (package moosefs-%s)"
                           % (binary, binary[3:]))
    node = local_node(ctx)
    if report_config:
        for warning in node.config_warnings():
            ctx.log.warning(warning)
    try:
        node.check_layout()
    except LayoutError as error:
        raise OCFError(codes.ERR_CONFIGURED, str(error)) from None
    return node


def check_installation(ctx: Context, report_config: bool = False) -> None:
    """check_local, and a MooseFS whose version this agent can restore (depth 10)."""
    check_local(ctx, report_config)
    from moosefs.generation import GenerationError, detect
    try:
        detect(timeout=min(10.0, ctx.deadline.remaining() / 2))
    except GenerationError as error:
        raise OCFError(codes.ERR_INSTALLED, str(error)) from None


def action_validate(ctx: Context) -> int:
    check_clone(ctx)
    if ctx.env.check_level >= 10:
        check_installation(ctx, report_config=True)
    return codes.SUCCESS


def deep_monitor(ctx: Context, promoted: bool) -> None:
    """Depth 10 (OCF_CHECK_LEVEL=10): validate-all's checks of this node's installation
    and configs. A running master is kept over a failed check (a config edited under
    it does not stop the file system), with a warning; a node that fails them as a
    standby fails its monitor, as its next start or promote would."""
    try:
        check_installation(ctx)
    except OCFError as error:
        if not promoted:
            raise OCFError(codes.ERR_GENERIC, "depth-10 check: %s" % error.reason) from None
        ctx.log.warning("depth-10 check: %s; mfsmaster keeps running, but a promote or "
                        "start here would refuse" % error.reason)


# --- monitor ----------------------------------------------------------------------------------
def action_monitor(ctx: Context) -> int:
    from ocf.proc import have_binary
    probe = ctx.env.is_probe
    if not have_binary("mfsmaster") and probe:
        return codes.NOT_RUNNING
    node = _node_or_none(ctx)
    if node is None:
        if probe:
            return codes.NOT_RUNNING
        raise OCFError(codes.ERR_CONFIGURED, "%s does not exist" % ctx.params.string("master_cfg"))
    state = store.local_state(ctx)
    master_pid = node.master.pid()
    deep = ctx.env.check_level >= 10 and not probe
    if master_pid:
        if not probe:
            monitor_promoted(ctx, node, master_pid)
        if deep:
            deep_monitor(ctx, promoted=True)
        if node.metalogger.pid():
            ctx.log.warning("mfsmetalogger runs beside mfsmaster on this node")
        return codes.RUNNING_PROMOTED
    if state.read().get("promoted"):
        raise OCFError(codes.FAILED_PROMOTED, "mfsmaster died on this Promoted node (data "
                       "%s); Pacemaker will recover it" % node.data_path)
    if node.metalogger.pid():
        if not probe:
            monitor_unpromoted(ctx, node)
        if deep:
            deep_monitor(ctx, promoted=False)
        return codes.SUCCESS
    return codes.NOT_RUNNING


def monitor_promoted(ctx: Context, node, master_pid: int) -> None:
    from failover.hold import FAILED, HoldFailed
    from .primary import check_master_answers, keep_promoted
    state = store.local_state(ctx)
    remembered = state.read()
    if remembered.get("hold_port") or remembered.get("hold_note"):
        outcome = ""
        try:
            outcome = client_hold(ctx, node).upkeep(master_pid, remembered)
        except HoldFailed as error:
            outcome = FAILED
            raise OCFError(codes.ERR_GENERIC, str(error)) from None
        finally:
            if outcome:
                from .records import record_hold, records
                record_hold(records(ctx.env.resource_name, ctx.env.environ), outcome)
        remembered = state.read()
    check_master_answers(ctx, node, master_pid, remembered)
    keep_promoted(ctx, node, state, remembered)


def monitor_unpromoted(ctx: Context, node) -> None:
    from failover.steps import hole_needs_restart, restart_metalogger
    found = publish_freshness(ctx, node)
    state = store.local_state(ctx)
    if hole_needs_restart(found, float(state.read().get("hole_restart_at") or 0)):
        state.update(hole_restart_at="%d" % time.time())
        try:
            restart_metalogger(node, ctx.deadline.remaining(), archiver(ctx, node),
                               store.cached_hwm(state.read()), ctx.env.node_name, ctx.log,
                               found.reason)
        except StepFailed as error:
            raise OCFError(codes.ERR_GENERIC, str(error)) from None


def client_hold(ctx: Context, node):
    """This instance's client hold (failover.hold), its config copy in HA_RSCTMP."""
    from failover.hold import Hold
    return Hold(node, store.local_state(ctx), store.cfg_copy_path(ctx),
                ctx.params.integer("client_hold"), ctx.log)


def serving_clients(node, state) -> bool:
    """Does the master accept clients (at its loopback port while it holds them off)?"""
    from moosefs.clienthold import HOLD_HOST
    from moosefs.daemons import serving
    held_port = state.read().get("hold_port")
    return node.serving() or bool(held_port) and serving(HOLD_HOST, int(held_port))


# --- the daemons ------------------------------------------------------------------------------
def start_metalogger(ctx: Context, node) -> None:
    from failover.steps import start_metalogger as start
    with ctx.log.step("metalogger start") as step:
        try:
            start(node, ctx.deadline.remaining(), archiver(ctx, node),
                  store.cached_hwm(store.local_state(ctx).read()), ctx.env.node_name, ctx.log)
        except StepFailed as error:
            raise OCFError(codes.ERR_GENERIC, str(error)) from None
        step.note = "pid %d" % node.metalogger.pid()


def stop_master(ctx: Context, node) -> None:
    """Stop mfsmaster cleanly (it saves metadata.mfs) and, when this agent promoted it,
    raise the mark to the version it reached. ClusterUnreachable when that version
    could not be recorded."""
    from failover.steps import stop_master as stop
    try:
        image = stop(node, ctx.deadline.remaining(), ctx.params.boolean("fast_stop"), ctx.log)
    except StepFailed as error:
        raise OCFError(codes.ERR_GENERIC, str(error)) from None
    if image is not None:
        store.PacemakerCluster(ctx, node.data_path).record_reached(image.version, image.metaid)


# --- start, stop ------------------------------------------------------------------------------
def action_start(ctx: Context) -> int:
    check_clone(ctx)
    node = check_local(ctx, report_config=True)
    if node.master.pid():
        ctx.log.warning("mfsmaster already runs here outside the Promoted role; stopping it")
        store.local_state(ctx).update(promoted="")
        stop_master(ctx, node)
    store.local_state(ctx).remove()
    store.refresh_hwm(ctx)
    if not node.metalogger.pid():
        start_metalogger(ctx, node)
    publish_freshness(ctx, node, force=True)
    return codes.SUCCESS


def action_stop(ctx: Context) -> int:
    from moosefs.daemons import DaemonError
    node = _node_or_none(ctx)
    if node is not None:
        try:
            stop_master(ctx, node)
        except ClusterUnreachable as error:
            # Failing the stop would only get this node fenced; the version stays in
            # its metadata.mfs, and the node ranks with it when it comes back.
            ctx.log.error("the version mfsmaster reached is not recorded: %s" % error)
        try:
            node.metalogger.stop(ctx.deadline.remaining())
        except DaemonError as error:
            raise OCFError(codes.ERR_GENERIC, str(error)) from None
    store.forget_node(ctx)
    return codes.SUCCESS


# --- promote ----------------------------------------------------------------------------------
class PromoteFailed(OCFError):
    """A promote that failed, with its `kind` for the records (mfsha.records)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(codes.ERR_GENERIC, reason)
        self.kind = kind


def action_promote(ctx: Context) -> int:
    """promote_here, its outcome, duration and steps kept for `mfsha metrics`."""
    from .records import FAILED, PROMOTED, record_promote, records
    node = check_local(ctx)
    if node.master.pid() and store.promoted_here(ctx) and \
            serving_clients(node, store.local_state(ctx)):
        return codes.SUCCESS
    started = time.monotonic()
    outcome = FAILED
    try:
        promote_here(ctx, node)
        outcome = PROMOTED
    except PromoteFailed as failed:
        outcome = failed.kind
        raise
    finally:
        record_promote(records(ctx.env.resource_name, ctx.env.environ), outcome,
                       time.monotonic() - started, ctx.log.steps_done)
    return codes.SUCCESS


def promote_here(ctx: Context, node) -> None:
    """The core's promote sequence (failover.promote), then the master started with
    clients held off while the cluster records the promotion. Each step is logged
    with its duration, so that an administrator sees where a failover's time went."""
    from failover.promote import Refused, promote
    state = store.local_state(ctx)
    if node.master.pid():
        ctx.log.warning("mfsmaster runs here, not promoted by this agent: stopping it to "
                        "promote through the election")
        stop_master(ctx, node)
    started = time.monotonic()
    state.update(metalogger_before_promote="1" if node.metalogger.pid() else "")
    try:
        done = promote(node, store.PacemakerCluster(ctx, node.data_path), rules(ctx),
                       archiver(ctx, node), ctx.deadline, ctx.log, store.scan_store(ctx))
    except Refused as refused:
        yield_after(ctx, refused)
        refuse_promotion(ctx, node, refused.kind, refused.reason)
    result = done.result
    hold = client_hold(ctx, node)  # before the records' thread: both write the local state
    held_port = hold.prepare(result.generation.version[0] if result.generation else 0)
    # The cluster learns of the promotion while mfsmaster loads: its records do not
    # wait for the master, and the virtual IP waits for promote to return.
    from concurrent.futures import ThreadPoolExecutor
    from failover.steps import start_master
    with ThreadPoolExecutor(1) as background:
        recording = background.submit(record_promotion, ctx, node, result.version,
                                      result.metaid)
        try:
            start_master(node, ctx.deadline, ctx.log, held_port, hold.cfg_copy)
        except StepFailed as error:
            own_files_failed(ctx, done.own or NOTHING)
            raise PromoteFailed("master_start_failed", str(error)) from None
        try:
            recording.result()  # an error in the records is the promote's
        except ClusterUnreachable as error:
            undo_promotion(ctx, node, "the cluster did not record this promotion (%s)" % error)
    if held_port:
        hold.start_helper(node.master.pid())
    ctx.log.info("promoted: metadata restored to version %d, mfsmaster serving (%.3f s in all)"
                 % (result.version, time.monotonic() - started))


def yield_after(ctx: Context, refused) -> None:
    """After a refusal: hand the promotion to a fresher node and keep out of its way
    until then; or, when this node's own files failed, drop out of the ranking at once
    (Pacemaker promotes the next node in the same failover) while they stay the same."""
    verdict = refused.verdict
    if verdict is not None and verdict.fresher_node:
        ctx.cluster.set_promotion_score(BEST_SCORE, node=verdict.fresher_node)
        store.set_score(ctx, FORCED_SCORE)
        store.yield_mark(ctx).update(version=str(verdict.fresher_version),
                                     to=verdict.fresher_node)
    if refused.own_files is not None:
        own_files_failed(ctx, refused.own_files)


def own_files_failed(ctx: Context, own: Freshness) -> None:
    store.yield_mark(ctx).update(restore_failed=own.text())
    store.set_score(ctx, None)


def refuse_promotion(ctx: Context, node, kind: str, reason: str) -> None:
    """Go back to the Unpromoted state promote found, then fail it with `reason` (of
    `kind`, for the records).
    The node is ranked again at once: pre-promote no longer does it, and with its old
    score Pacemaker would retry the promote here until the next monitor."""
    if store.local_state(ctx).read().get("metalogger_before_promote") and \
            not node.metalogger.pid():
        try:
            start_metalogger(ctx, node)
        except OCFError as error:
            reason += " (and the metalogger did not start again: %s)" % error.reason
    publish_freshness(ctx, node, force=True)
    raise PromoteFailed(kind, reason)


def record_promotion(ctx: Context, node, version: int, metaid: int) -> None:
    """What the cluster learns of a promotion, once the metadata is restored to `version`:
    the high-water mark (the cluster follows this node from now; its files reach that
    version), the promotion score, and the attributes a metalogger published, removed.
    Each is one cluster tool call of 30-60 ms, so they run side by side."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial
    from failover.election import PROMOTED_SCORE
    name = ctx.env.resource_name
    with ctx.log.step("cluster records"):
        store.local_state(ctx).update(promoted="1", published="")
        store.yield_mark(ctx).remove()
        shown = {"version": str(version), "lag": "0 (master)", "lag-changes": "0",
                 "promotable": "promoted"}
        jobs = [partial(store.write_hwm, ctx, node.data_path, version, metaid),
                partial(store.set_score, ctx, PROMOTED_SCORE),
                partial(ctx.cluster.delete_attribute, store.freshness_attribute(name)),
                partial(ctx.cluster.delete_attribute, store.stamp_attribute(name))]
        jobs += [partial(store.show, ctx, {what: text}) for what, text in shown.items()]
        with ThreadPoolExecutor(len(jobs)) as pool:
            for running in [pool.submit(job) for job in jobs]:
                running.result()  # an error in any of them is the promote's


def undo_promotion(ctx: Context, node, reason: str) -> None:
    """Stop the master a failing promote started and fail with `reason`: a master the
    cluster's records do not name must not serve."""
    from moosefs.daemons import DaemonError
    try:
        node.master.stop(ctx.deadline.remaining() / 2)
    except DaemonError as error:
        reason += "; and mfsmaster did not stop: %s" % error
    store.local_state(ctx).update(promoted="")
    refuse_promotion(ctx, node, "not_recorded", reason + "; mfsmaster stopped again")


# --- demote, notify, reload -------------------------------------------------------------------
def action_demote(ctx: Context) -> int:
    """The core's step-down (failover.promote.step_down), then this node ranks again."""
    from failover.promote import step_down
    node = check_local(ctx)
    started = time.monotonic()
    try:
        step_down(node, store.PacemakerCluster(ctx, node.data_path),
                  ctx.params.boolean("fast_stop"), archiver(ctx, node),
                  ctx.deadline.remaining(), ctx.log)
    except ClusterUnreachable as error:
        raise OCFError(codes.ERR_GENERIC, "mfsmaster stopped, but the version it reached "
                       "is not recorded: %s" % error) from None
    except StepFailed as error:
        raise OCFError(codes.ERR_GENERIC, str(error)) from None
    finally:
        if not node.master.pid():  # no longer a master here, whatever failed after
            store.local_state(ctx).update(promoted="", score="", hold_port="")
    publish_freshness(ctx, node, force=True)
    ctx.log.info("demoted (%.3f s in all)" % (time.monotonic() - started))
    return codes.SUCCESS


def action_notify(ctx: Context) -> int:
    """Keep freshness current around promotions. Never waits: Pacemaker ignores notify
    results, and a notify that waits only delays the transition."""
    from .standby import keep_history_ahead_of, release_yield_mark
    note = ctx.notification
    me = ctx.env.node_name
    if note.key == "pre-promote":
        node = _node_or_none(ctx)
        if node is not None and node.metalogger.pid() and not node.master.pid():
            store.refresh_hwm(ctx)
            publish_freshness(ctx, node, force=True, rank_now=False)
            keep_history_ahead_of(ctx, node, note.unames["promote"])
        if me in note.unames["promote"]:
            peers = set(note.unames["unpromoted"]) | set(note.unames["start"])
            store.local_state(ctx).update(expected_peers=" ".join(sorted(peers - {me})))
    elif note.key == "post-promote":
        release_yield_mark(ctx, store.refresh_hwm(ctx))
    elif note.key == "post-demote":
        store.refresh_hwm(ctx)
    return codes.SUCCESS


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
