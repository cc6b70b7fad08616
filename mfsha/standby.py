"""The Unpromoted side of the Pacemaker front-end: publish how fresh this node's
metadata is, rank it against its peers as a promotion score, and show it in crm_mon -A.
Cluster writes happen only on change: this runs at every Unpromoted monitor."""
from __future__ import annotations

import time

from failover.election import lag_floor, lag_text, promotable_text, rank
from failover.mark import NOTHING, Freshness, moved, parse_all
from failover.steps import READ_BUDGET_SECONDS, inspect_own
from ocf.codes import ClusterUnreachable
from ocf.dispatch import Context

from . import store

RERANK_SECONDS = 30         # an Unpromoted monitor re-reads its peers at most this often


def reading_budget(ctx: Context) -> float:
    """How long a monitor or notification may read changelogs."""
    return min(READ_BUDGET_SECONDS, ctx.deadline.remaining() / 2)


def publish_freshness(ctx: Context, node, force: bool = False, rank_now: bool = True):
    """Publish this node's freshness when it moved, then rank it. Peers are re-read
    every RERANK_SECONDS, or when forced (start, demote, a refused promote); in between
    a cached copy serves. Scores are hints: promote compares exactly.
    `rank_now=False` (pre-promote): publish only the private freshness the promoting
    node checks, and leave the score and the public attributes to the next monitor:
    those live in the CIB, and each change there aborts the transition under way.
    Returns the inspection of this node's files."""
    state = store.local_state(ctx)
    remembered = state.read()
    own, found = inspect_own(node, store.cached_hwm(remembered), ctx.env.node_name,
                             store.scan_store(ctx), reading_budget(ctx))
    published, own_stamp, changed = _publish(ctx, remembered, own, found, force)
    if not rank_now:
        state.update(peers_at="0")  # the next monitor ranks
        return found
    peers_and_stamps = _peers(ctx, remembered, force, changed)
    if peers_and_stamps is not None:
        _rank(ctx, remembered, own, found, published, own_stamp, *peers_and_stamps)
    return found


def _publish(ctx: Context, remembered: dict[str, str], own: Freshness | None, found,
             force: bool) -> tuple[str | None, int, bool]:
    """(the freshness published, its stamp, whether it moved). "0:0" says "nothing to
    offer", so that a promote elsewhere need not wait for this node."""
    value = (own or NOTHING).text()
    published = remembered.get("published")
    own_stamp = int(remembered.get("published_stamp") or 0)
    changed = moved(Freshness.parse(published), own or NOTHING)
    if changed or force:
        if own is None:
            ctx.log.info("no promotable metadata here: %s" % found.summary())
        name = ctx.env.resource_name
        # Remembered only once attrd has it, so a failed publication is retried.
        if ctx.cluster.set_private(store.freshness_attribute(name), value):
            published, own_stamp = value, found.newest_stamp
            ctx.cluster.set_private(store.stamp_attribute(name), str(own_stamp))
            store.local_state(ctx).update(published=published, published_stamp=str(own_stamp))
    return published, own_stamp, changed


def _peers(ctx: Context, remembered: dict[str, str], force: bool, changed: bool):
    """(peers' freshness, their stamps) to rank with, or None when nothing is to rank."""
    stale = time.time() - float(remembered.get("peers_at") or 0) >= RERANK_SECONDS
    if force or stale:
        try:
            peers, stamps = store.peer_freshness(ctx), store.peer_stamps(ctx)
        except ClusterUnreachable as error:
            # Scores are hints (promote asks again); keep them until peers can be read.
            ctx.log.warning("peers' freshness not read, rank unchanged: %s" % error)
            return None
        store.local_state(ctx).update(peers=_pairs_text({n: v.text() for n, v in peers.items()}),
                                      stamps=_pairs_text(stamps), peers_at="%d" % time.time())
        return peers, stamps
    if changed:
        return parse_all(_pairs(remembered.get("peers", ""))), _pairs(remembered.get("stamps", ""))
    return None


def _rank(ctx: Context, remembered: dict[str, str], own: Freshness | None, found,
          published: str | None, own_stamp: int, peers: dict[str, Freshness],
          stamps: dict[str, str]) -> None:
    hwm = store.cached_hwm(remembered)
    yielding = store.yield_mark(ctx).read()
    score, why = rank(own, found.verdict == "empty", hwm, peers,
                      ctx.params.boolean("allow_data_loss"),
                      ctx.params.boolean("allow_new_filesystem"),
                      int(yielding.get("version") or 0))
    if yielding.get("restore_failed") == (own or NOTHING).text():
        score, why = None, "its last promote failed on these files"
    store.set_score(ctx, score)
    # What crm_mon -A shows: the published (coarse) values, so nothing churns.
    shown = Freshness.parse(published) or NOTHING
    highest = max([p.version for p in peers.values()] + [hwm.version if hwm else 0])
    newest_stamp = max([int(t) for t in stamps.values()] + [own_stamp])
    behind = highest - shown.version
    store.show(ctx, {
        "version": str(shown.version) if shown.version else "none",
        "lag": lag_text(behind, newest_stamp - own_stamp if own_stamp else None)
        if shown.version else "-",
        "lag-changes": str(lag_floor(behind)) if shown.version else "",
        "promotable": promotable_text(score, why)})


def _pairs_text(values: dict[str, str]) -> str:
    return " ".join("%s=%s" % item for item in sorted(values.items()))


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def release_yield_mark(ctx: Context, hwm: Freshness | None) -> None:
    """Rank normally again once another node was promoted at least as fresh as the peer
    this node yielded to. Post-promote notifications come also after a promote that
    failed: only the high-water mark, which a successful promote writes, tells."""
    mark = store.yield_mark(ctx)
    wanted = int(mark.read().get("version") or 0)
    if wanted and hwm is not None and hwm.node not in ("", ctx.env.node_name) \
            and hwm.version >= wanted:
        mark.remove()


def keep_history_ahead_of(ctx: Context, node, promoted: list[str]) -> None:
    """Before a node below this one is promoted (allow_data_loss), archive a copy of this
    running metalogger's files: on reconnecting it would delete them."""
    from moosefs.restore import RestoreError, copy_if_ahead
    try:
        peers = store.peer_freshness(ctx)
    except ClusterUnreachable as error:
        ctx.log.warning("peers' freshness not read before a promotion: %s" % error)
        return
    target = peers.get(promoted[0]) if promoted else None
    if target is None:
        return
    hwm = store.cached_hwm(store.local_state(ctx).read())
    try:
        archive = copy_if_ahead(node.data_path, archiver(ctx, node),
                                hwm.known(ctx.env.node_name) if hwm else None, target.version)
    except RestoreError as error:
        ctx.log.warning("history ahead of %s not archived: %s" % (promoted[0], error))
        return
    if archive:
        ctx.log.warning("this node's metalogger history is ahead of %s, which is being "
                        "promoted: a copy is in %s (the metalogger will drop it)"
                        % (promoted[0], archive))


def archiver(ctx: Context, node):
    return node.archiver(ctx.params.string("archive_dir"), ctx.params.integer("archive_keep"),
                         ctx.params.integer("archive_max_mb"))
