"""Where the Pacemaker front-end keeps what it knows: the node attributes (private
freshness and stamp; public version, lag and promotable for crm_mon -A), the promotion
score, the high-water mark (a cluster property in the CIB, which survives every node)
and the typed local state in HA_RSCTMP. The agent and the operator command (mfsha.cli)
name them only through this module."""
from __future__ import annotations

import time

from failover.mark import Freshness, parse_all
from failover.promote import CannotTell
from ocf.codes import ClusterUnreachable
from ocf.dispatch import Context
from ocf.state import StateFile, ValueFile, rsc_tmp

HWM_WRITE_SECONDS = 10      # a write of the mark is retried this long before it fails
HWM_WRITE_RETRY_SECONDS = 0.5
PEER_WAIT_SECONDS = 5       # promote waits this long for a peer's published freshness
# Public attributes, which crm_mon -A shows; lag-changes is the lag as a number.
SHOWN = ("version", "lag", "lag-changes", "promotable")


# --- names, by resource ---------------------------------------------------------------------
def freshness_attribute(resource: str) -> str:
    return "mfsha-%s-freshness" % resource


def stamp_attribute(resource: str) -> str:
    """When the newest change a node holds was made (from its changelog), for the lag in
    seconds; apart from the freshness, whose format every agent version reads."""
    return "mfsha-%s-stamp" % resource


def shown_attribute(resource: str, what: str) -> str:
    return "mfsha-%s-%s" % (resource, what)


def hwm_property(resource: str) -> str:
    return "mfsha-%s-hwm" % resource


def rules(resource: str, allow_data_loss: bool, allow_new_filesystem: bool):
    """The election's rules (failover.election.Rules) as the agent's parameters set them,
    its refusals naming those parameters and the mark's cluster property."""
    from failover.election import Rules, Words
    return Rules(allow_data_loss, allow_new_filesystem,
                 Words("set allow_data_loss=true", "set allow_new_filesystem=true",
                       "record the last master with crm_attribute --type crm_config --name "
                       "%s --update VERSION:METADATA_ID:NODE" % hwm_property(resource)))


# --- local state --------------------------------------------------------------------------------
def local_state(ctx: Context) -> StateFile:
    """What this instance remembers between actions; start and stop clear it."""
    return StateFile(rsc_tmp(ctx.env.environ), "mfsha-%s.state" % ctx.env.resource_name)


def yield_mark(ctx: Context) -> StateFile:
    """Kept apart from local_state, which stop and start clear: a refused promote is
    followed by stop and start, and the node must still yield after them (to a fresher
    peer, `version`, or because its own files failed, `restore_failed`)."""
    return StateFile(rsc_tmp(ctx.env.environ), "mfsha-%s.yield" % ctx.env.resource_name)


def scan_store(ctx: Context) -> ValueFile:
    """What inspections here read of the changelogs (failover.steps.inspect_own)."""
    return ValueFile(rsc_tmp(ctx.env.environ), "mfsha-%s.scans" % ctx.env.resource_name)


def cfg_copy_path(ctx: Context) -> str:
    """The client hold's config copy (failover.hold)."""
    import os
    return os.path.join(rsc_tmp(ctx.env.environ), "mfsha-%s-mfsmaster.cfg"
                        % ctx.env.resource_name)


def promoted_here(ctx: Context) -> bool:
    """Did this agent promote the master running here? Only such a master writes the
    mark: one started by hand or at boot, from whatever image, never does."""
    return bool(local_state(ctx).read().get("promoted"))


# --- public attributes and the score -------------------------------------------------------
def show(ctx: Context, values: dict[str, str]) -> None:
    """Public node attributes for crm_mon -A ({SHOWN name: text}), written only when
    their text changed."""
    state = local_state(ctx)
    remembered = state.read()
    for what, value in values.items():
        if remembered.get("shown_" + what.replace("-", "_")) != value and \
                ctx.cluster.set_public(shown_attribute(ctx.env.resource_name, what), value):
            state.update(**{"shown_" + what.replace("-", "_"): value})


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


def forget_node(ctx: Context) -> None:
    """Stop: nothing of this node stays published."""
    name = ctx.env.resource_name
    ctx.cluster.delete_promotion_score()
    for attribute in [freshness_attribute(name), stamp_attribute(name)] + \
            [shown_attribute(name, what) for what in SHOWN]:
        ctx.cluster.delete_attribute(attribute)
    local_state(ctx).remove()


# --- the high-water mark ----------------------------------------------------------------------
def cached_hwm(state: dict[str, str]) -> Freshness | None:
    """The mark as this node last read or wrote it: a hint for ranking and for the
    metalogger's start, never the base of a safety rule or of a write."""
    return Freshness.parse(state.get("hwm"))


def read_hwm(ctx: Context) -> Freshness | None:
    """The mark as the CIB holds it now (None: never recorded), remembered locally.
    ClusterUnreachable when it could not be read, or is set but unreadable: a rule
    that depends on it then refuses instead of taking it as absent."""
    name = hwm_property(ctx.env.resource_name)
    text = ctx.cluster.get_property(name)
    mark = Freshness.parse(text)
    if text is not None and mark is None:
        raise ClusterUnreachable("the cluster property %s holds %r, not VERSION:METADATA_ID"
                                 "[:NODE:FINGERPRINT]" % (name, text))
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


def record_hwm(ctx: Context, data_path: str, version: int, metaid: int) -> None:
    """Raise the mark to `version`, which this master reached, by the one raise rule
    (failover.mark.raises) against the CIB's value, never the local copy: a node whose
    copy is empty (after a reboot) cannot lower it. ClusterUnreachable when the mark
    could not be read or written."""
    from failover.mark import raises
    if raises(read_hwm(ctx), Freshness(version, metaid)):
        write_hwm(ctx, data_path, version, metaid)


def write_hwm(ctx: Context, data_path: str, version: int, metaid: int) -> None:
    """Write the mark (this node, as master, reached `version`, with the fingerprint of
    its last change), retried for at most HWM_WRITE_SECONDS. ClusterUnreachable when
    it could not be written: the mark must never silently keep naming an older master."""
    from failover.mark import reached as reached_by
    reached = reached_by(ctx.env.node_name, data_path, version, metaid)
    until = ctx.deadline.sub(HWM_WRITE_SECONDS)
    while not ctx.cluster.set_property(hwm_property(ctx.env.resource_name), reached.text()):
        if not ctx.cluster.expected():
            ctx.log.warning("no cluster runs here: the high-water mark is not recorded")
            return
        if until.remaining() < HWM_WRITE_RETRY_SECONDS:
            raise ClusterUnreachable("the high-water mark %s was not written" % reached.text())
        time.sleep(HWM_WRITE_RETRY_SECONDS)
    local_state(ctx).update(hwm=reached.text())


# --- the peers ----------------------------------------------------------------------------------
def peer_freshness(ctx: Context) -> dict[str, Freshness]:
    """What the other nodes published (ClusterUnreachable when attrd cannot be asked)."""
    values = ctx.cluster.query_private_all(freshness_attribute(ctx.env.resource_name))
    return parse_all({node: text for node, text in values.items()
                      if node != ctx.env.node_name})


def peer_stamps(ctx: Context) -> dict[str, str]:
    return {node: text for node, text in ctx.cluster.query_private_all(
        stamp_attribute(ctx.env.resource_name)).items() if text.isdigit()}


def partition_peers(ctx: Context) -> dict[str, Freshness]:
    """Peers in our partition with their published freshness, waiting briefly for the
    ones pre-promote said were Unpromoted."""
    me = ctx.env.node_name
    members = ctx.cluster.partition_nodes()
    expected = set(local_state(ctx).read().get("expected_peers", "").split()) - {me}
    if members is not None:
        expected &= set(members)
    until = time.monotonic() + min(PEER_WAIT_SECONDS, ctx.deadline.remaining() / 4)
    while True:
        peers = peer_freshness(ctx)
        if members is not None:
            peers = {n: v for n, v in peers.items() if n in members}
        missing = expected - set(peers)
        if not missing or time.monotonic() >= until:
            break
        time.sleep(0.2)
    if missing:
        ctx.log.warning("no freshness published by %s; promoting without it"
                        % ", ".join(sorted(missing)))
    return peers


class PacemakerCluster:
    """failover.promote.Cluster as Pacemaker keeps it: the mark in the CIB, the peers'
    freshness in attrd; Pacemaker itself guarantees no second master."""

    def __init__(self, ctx: Context, data_path: str) -> None:
        self.ctx = ctx
        self.data_path = data_path
        self.me = ctx.env.node_name

    def read_mark(self) -> Freshness | None:
        try:
            return read_hwm(self.ctx)
        except ClusterUnreachable as error:
            raise CannotTell(str(error)) from None

    def peers(self, own: Freshness | None) -> tuple[dict[str, Freshness], list[str]]:
        try:
            return partition_peers(self.ctx), []
        except ClusterUnreachable as error:
            raise CannotTell(str(error)) from None

    def record_reached(self, version: int, metaid: int) -> None:
        """ClusterUnreachable when the version could not be recorded."""
        if promoted_here(self.ctx):
            record_hwm(self.ctx, self.data_path, version, metaid)
        else:
            self.ctx.log.warning("mfsmaster was not promoted by this agent: version %d is "
                                 "not recorded as the cluster's high-water mark" % version)

    def mark_for_metalogger(self) -> Freshness | None:
        return cached_hwm(local_state(self.ctx).read())
