"""The election: how nodes rank for promotion, and whether a node may be promoted now,
with the reason. Every front-end and the operator command decide with this module; it
calls no cluster tool and reads no file: callers hand in what they read.
"""
from __future__ import annotations

from .mark import CHANGE_TOLERANCE, Freshness

PROMOTED_SCORE = 1001       # the running master keeps its role
BEST_SCORE = 1000           # an Unpromoted node with the freshest metadata
RANK_STEP = 100             # score lost per fresher peer
LOWEST_RANKED_SCORE = 10
FORCED_SCORE = 1            # only with allow_data_loss / allow_new_filesystem


# Plain classes, not typing.NamedTuple: `typing` (and the `re` it imports) would cost
# every monitor several milliseconds.
class Words:
    """How a front-end names its settings in a refusal, so that the refusal says what
    to set: `allow_data_loss` (e.g. "set allow_data_loss=true"), `allow_new_filesystem`,
    and `record_mark`, how to record the last master by hand."""

    def __init__(self, allow_data_loss: str, allow_new_filesystem: str,
                 record_mark: str) -> None:
        self.allow_data_loss = allow_data_loss
        self.allow_new_filesystem = allow_new_filesystem
        self.record_mark = record_mark


class Rules:
    def __init__(self, allow_data_loss: bool, allow_new_filesystem: bool,
                 words: Words) -> None:
        self.allow_data_loss = allow_data_loss
        self.allow_new_filesystem = allow_new_filesystem
        self.words = words


def rank(own, empty: bool, hwm: Freshness | None, peers: dict[str, Freshness],
         allow_data_loss: bool, allow_new: bool, yielding: int = 0) -> tuple[int | None, str]:
    """(promotion score, why) of an Unpromoted node; score None: must not be promoted.
    `why` is short, for crm_mon ("" for the best rank).

    `own` is a Freshness, or None when the node has no restorable metadata.
    `yielding` is the version of a fresher peer this node refused to promote against:
    until a promotion happens, the node stays at the lowest score unless it has since
    caught up, so that Pacemaker does not pick it again for the next attempt.
    """
    if own is None:
        nobody_has_any = not any(p.version for p in peers.values())
        if empty and allow_new and hwm is None and nobody_has_any:
            return FORCED_SCORE, "no metadata: a new file system (allow_new_filesystem)"
        return None, "no metadata"
    if hwm is not None and not own.same_filesystem(hwm):
        return None, "another file system (%016X)" % own.metaid
    if hwm is not None and own.version < hwm.version:
        why = "below high-water mark %d" % hwm.version
        return (FORCED_SCORE, why + " (allow_data_loss)") if allow_data_loss else (None, why)
    if yielding and own.version < yielding:
        return FORCED_SCORE, "yielding to a fresher peer (version %d)" % yielding
    fresher = {n: p.version for n, p in peers.items()
               if p.same_filesystem(own) and p.version > own.version + CHANGE_TOLERANCE}
    score = max(LOWEST_RANKED_SCORE, BEST_SCORE - RANK_STEP * len(fresher))
    if not fresher:
        return score, ""
    freshest = max(fresher, key=lambda n: (fresher[n], n))
    return score, "peer %s fresher" % freshest


def lag_text(changes: int, seconds: int | None = None) -> str:
    """A lag in coarse steps: changes behind the freshest version published (exact to
    CHANGE_TOLERANCE), and seconds between the times of the newest changes held."""
    if changes <= CHANGE_TOLERANCE:
        text = "none"
    else:
        step = next((s for s in (1000, 10000, 100000) if changes < s), None)
        text = "under %d changes" % step if step else "100000 changes or more"
    if seconds is None or changes <= CHANGE_TOLERANCE:
        return text
    step = next((s for s in (10, 60, 600, 3600) if seconds < s), None)
    return text + (", under %d s" % step if step else ", an hour or more")


def lag_floor(changes: int) -> int:
    """The lag as a number for rules and graphs, as coarse as lag_text: 0 within
    CHANGE_TOLERANCE, else "at least" 100, 1000, 10000 or 100000 changes behind."""
    if changes <= CHANGE_TOLERANCE:
        return 0
    return max(s for s in (100, 1000, 10000, 100000) if s <= changes)


def promotable_text(score: int | None, why: str) -> str:
    if score is None:
        return "no: " + why
    if score == FORCED_SCORE:
        return "only if forced: " + why
    return "yes" + (" (%s)" % why if why else "")


class Verdict:
    """Whether a node may be promoted: `steps` passed in order, then the `refusal` (empty
    when it may) and its `kind` (one of REFUSAL_KINDS, a label for metrics).
    `fresher_node` names the peer to promote instead, if that is why."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.refusal = ""
        self.kind = ""
        self.fresher_node = ""
        self.fresher_version = 0

    @property
    def promotable(self) -> bool:
        return not self.refusal

    def passed(self, step: str) -> None:
        if not self.refusal:
            self.steps.append(step)

    def refuse(self, kind: str, reason: str) -> None:
        if not self.refusal:
            self.refusal, self.kind = reason, kind


def judge(own: Freshness | None, verdict: str, reason: str, data_path: str,
          hwm: Freshness | None, peers: dict[str, Freshness], rules: Rules,
          masters: list[str] | tuple = ()) -> Verdict:
    """May this node be promoted now? `own` is its freshness (None: nothing restorable),
    `verdict`/`reason` its inspection's (moosefs.inspect), `hwm` the high-water mark,
    `peers` the freshness the other reachable nodes published and `masters` those of
    them that run a master. A peer of another file system neither blocks nor counts.
    The first rule that fails is the refusal; the ones before are `steps`."""
    words = rules.words
    result = Verdict()
    here = own.version if own else 0
    if masters:
        result.refuse("peer_master", "peer %s already runs mfsmaster" % sorted(masters)[0])
    if own is None and verdict == "undecided":
        result.refuse("history_unknown",
                      "%s: %s; or %s" % (data_path, reason, words.record_mark))
    if own is None and verdict != "empty":
        result.refuse("not_restorable",
                      "metadata in %s cannot be restored: %s" % (data_path, reason))
    result.passed("metadata here: %s" % ("none (empty data directory)" if own is None
                                         else "restores to version %d" % here))
    ours = {n: v for n, v in peers.items() if own is None or v.same_filesystem(own)}
    fresher = sorted(((v.version, n) for n, v in ours.items() if v.version > here), reverse=True)
    if fresher and not rules.allow_data_loss and not result.refusal:
        result.fresher_version, result.fresher_node = fresher[0]
        result.refuse("fresher_peer", "node %s holds fresher metadata (version %d, here %s); "
                      "not promoting so that %s is promoted" % (
                          result.fresher_node, fresher[0][0], own.version if own else "none",
                          result.fresher_node))
    result.passed("no peer holds fresher metadata (%s)" % (
        ", ".join("%s %d" % (n, v.version) for n, v in sorted(ours.items())) or "no peers"))
    if own is not None and hwm is not None and not own.same_filesystem(hwm):
        result.refuse("other_filesystem", "metadata here belongs to file system %016X, the "
                      "cluster's is %016X: clean %s" % (own.metaid, hwm.metaid, data_path))
    if hwm is not None and (own is None or here < hwm.version) and not rules.allow_data_loss:
        result.refuse("below_mark", "metadata here restores to version %s, below the version "
                      "%d a master of this cluster reached: promoting would lose changes; %s to "
                      "force it" % (own.version if own else "none", hwm.version, words.allow_data_loss))
    result.passed("high-water mark: %s" % (
        "none recorded" if hwm is None else "version %d by %s, reached here" % (
            hwm.version, hwm.node or "an unrecorded master")))
    if own is None and (hwm is not None or not rules.allow_new_filesystem):
        result.refuse("no_metadata", "no metadata in %s; %s to create a new file system on a "
                      "new cluster" % (data_path, words.allow_new_filesystem))
    if own is None and fresher:
        result.refuse("empty_beside_peers", "no metadata here while peers have some")
    result.passed("may be promoted")
    return result
