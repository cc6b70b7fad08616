"""The Promoted monitor's upkeep in the Pacemaker front-end: the master answers, the
standbys keep up or the high-water mark follows the master, and a master this agent
did not promote is kept only at the mark."""
from __future__ import annotations

import time

from failover.election import PROMOTED_SCORE
from failover.mark import CHANGE_TOLERANCE
from failover.steps import READING, inspect_own
from ocf import codes
from ocf.codes import ClusterUnreachable, OCFError
from ocf.dispatch import Context
from ocf.state import StateFile

from . import store
from .standby import reading_budget

HWM_REFRESH_SECONDS = 60    # the Promoted monitor looks at its version at most this often
HEALTH_SECONDS = 5          # a Promoted monitor fails when mfsmaster does not answer in this


def check_master_answers(ctx: Context, node, pid: int, remembered: dict[str, str]) -> None:
    """Fail the monitor unless the master answers a request within HEALTH_SECONDS (at
    its loopback port while it holds clients off). A stopped, deadlocked or I/O-bound
    master keeps its lock and its listening sockets, so neither proves it serves."""
    from moosefs.chunkservers import ListError, Refused, check_answers
    from moosefs.clienthold import HOLD_HOST
    held_port = remembered.get("hold_port")
    # While clients are held off the master listens at a loopback port; the helper
    # that lets them in moves it to the client port just before it clears hold_port.
    addresses = ([(HOLD_HOST, int(held_port))] if held_port else []) + [node.client_address()]
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


def keep_promoted(ctx: Context, node, state: StateFile, remembered: dict[str, str]) -> None:
    """The score, and a high-water mark that covers every change no standby holds.
    While every standby's metalogger keeps up, they hold the master's changes and the
    mark is raised only by more than CHANGE_TOLERANCE, once a minute at most; while
    one falls behind or is missing, the mark follows the master at every monitor."""
    store.set_score(ctx, PROMOTED_SCORE)
    if not remembered.get("promoted"):
        adopt_master(ctx, node, state)
        return
    lagging = standbys_lagging(node, state, remembered)
    # Logged and stored on a change only: the text's byte counts move every monitor.
    if bool(lagging) != bool(remembered.get("lagging")):
        (ctx.log.warning if lagging else ctx.log.info)(
            "standbys: %s" % (lagging + "; the high-water mark follows the master"
                              if lagging else "every standby keeps up again"))
        state.update(lagging="1" if lagging else "")
    due = time.time() - float(remembered.get("hwm_checked_at") or 0) >= HWM_REFRESH_SECONDS
    if not lagging and not due:
        return
    known = store.cached_hwm(remembered)
    own, _ = inspect_own(node, known, ctx.env.node_name, store.scan_store(ctx),
                         reading_budget(ctx))
    margin = 0 if lagging else CHANGE_TOLERANCE
    if own is not None and (known is None or own.version > known.version + margin
                            or not own.same_filesystem(known)):
        try:
            store.record_hwm(ctx, node.data_path, own.version, own.metaid)
        except ClusterUnreachable as error:
            ctx.log.warning("high-water mark not raised to %d: %s" % (own.version, error))
    if due:
        shown = remembered.get("shown_version", "")
        if own is not None and (not shown.isdigit()
                                or abs(own.version - int(shown)) > CHANGE_TOLERANCE):
            store.show(ctx, {"version": str(own.version)})
        state.update(hwm_checked_at="%d" % time.time())


def standbys_lagging(node, state: StateFile, remembered: dict[str, str]) -> str:
    """Why the standbys may not hold every change ("" when they do): fewer metalogger
    streams keep up than the standbys the promote knew (at least one). The streams
    found are remembered, so that the next monitor looks up just those."""
    from moosefs.followers import check
    expected = max(1, len(remembered.get("expected_peers", "").split()))
    found = check(node.master_cfg.integer("MATOML_LISTEN_PORT"),
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


def adopt_master(ctx: Context, node, state: StateFile) -> None:
    """A master this agent did not promote (started by hand or at boot, then found by a
    probe) serves only if its metadata is at the cluster's high-water mark, of the same
    file system; it never writes the mark."""
    try:
        hwm = store.read_hwm(ctx)
    except ClusterUnreachable as error:
        raise OCFError(codes.FAILED_PROMOTED, "mfsmaster runs here but was not promoted by "
                       "this agent, and the high-water mark could not be read (%s)"
                       % error) from None
    own, found = inspect_own(node, hwm, ctx.env.node_name, store.scan_store(ctx),
                             reading_budget(ctx))
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
