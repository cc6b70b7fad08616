"""The election: how fresh a node's metadata is, how nodes rank for promotion, and
whether a node may be promoted now, with the reason. The agent (mfsha.agent) and the
operator command (mfsha why, mfsha status) both decide with this module; it calls no
cluster tool and reads no file: callers hand in what they read.
"""
from __future__ import annotations

PROMOTED_SCORE = 1001       # the running master keeps its role
BEST_SCORE = 1000           # an Unpromoted node with the freshest metadata
RANK_STEP = 100             # score lost per fresher peer
LOWEST_RANKED_SCORE = 10
FORCED_SCORE = 1            # only with allow_data_loss / allow_new_filesystem
# Versions within this many changes of each other count as the same at monitor time:
# they rank equally (metaloggers streaming one master, a second or less apart, must not
# make scores flap), a node republishes its freshness only when it moved further, and
# the Promoted monitor raises the high-water mark only by more. An idle MooseFS 4 master
# logs an IDLE() change every 30 s; without this every one of them would be a cluster
# write. Promote, demote and stop publish and compare exact versions.
CHANGE_TOLERANCE = 100


class Freshness:
    """'version:metadata-id', as a node publishes it; metadata id 0 means not known yet.
    The high-water mark adds ':node:fingerprint': the master that reached the version,
    and the fingerprint of its last change (moosefs.history.fingerprint; may be empty).
    A mark written before nodes were recorded names no node."""

    def __init__(self, version: int, metaid: int, node: str = "", fingerprint: str = "") -> None:
        self.version = version
        self.metaid = metaid
        self.node = node
        self.fingerprint = fingerprint

    @classmethod
    def parse(cls, text: str | None) -> "Freshness | None":
        fields = (text or "").split(":")
        if len(fields) < 2:
            return None
        try:
            return cls(int(fields[0]), int(fields[1], 16), *fields[2:4])
        except (ValueError, TypeError):
            return None

    def text(self) -> str:
        core = "%d:%016X" % (self.version, self.metaid)
        return core + (":%s:%s" % (self.node, self.fingerprint) if self.node else "")

    def known(self, me: str):
        """The cluster's knowledge for moosefs.history, as node `me` sees it."""
        from moosefs.history import Known
        return Known(self.version, self.node == me, self.fingerprint)

    def same_filesystem(self, other: "Freshness") -> bool:
        return not self.metaid or not other.metaid or self.metaid == other.metaid


NOTHING = Freshness(0, 0)


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


def rank_score(*args, **kwargs) -> int | None:
    """The score of `rank`."""
    return rank(*args, **kwargs)[0]


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


def promotable_text(score: int | None, why: str) -> str:
    if score is None:
        return "no: " + why
    if score == FORCED_SCORE:
        return "only if forced: " + why
    return "yes" + (" (%s)" % why if why else "")


def moved(before: Freshness | None, now: Freshness) -> bool:
    """Has a version moved by more than CHANGE_TOLERANCE (or to another file system)?"""
    if before is None or before.metaid != now.metaid or (before.version == 0) != (now.version == 0):
        return True
    return abs(now.version - before.version) > CHANGE_TOLERANCE


def parse_all(texts: dict[str, str]) -> dict[str, Freshness]:
    """{node: Freshness} from {node: 'version:id'}, dropping what does not parse."""
    parsed = {node: Freshness.parse(text) for node, text in texts.items()}
    return {node: value for node, value in parsed.items() if value is not None}


class Verdict:
    """Whether a node may be promoted: `steps` passed in order, then the `refusal` (empty
    when it may). `fresher_node` names the peer to promote instead, if that is why."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.refusal = ""
        self.fresher_node = ""
        self.fresher_version = 0

    @property
    def promotable(self) -> bool:
        return not self.refusal

    def passed(self, step: str) -> None:
        if not self.refusal:
            self.steps.append(step)

    def refuse(self, reason: str) -> None:
        if not self.refusal:
            self.refusal = reason


def judge(own: Freshness | None, verdict: str, reason: str, data_path: str,
          hwm: Freshness | None, peers: dict[str, Freshness], allow_loss: bool,
          allow_new: bool, hwm_name: str) -> Verdict:
    """May this node be promoted now? `own` is its freshness (None: nothing restorable),
    `verdict`/`reason` its inspection's (moosefs.inspect), `peers` the freshness the
    other nodes of the partition published, `hwm_name` the mark's cluster property.
    The first rule that fails is the refusal; the ones before are `steps`."""
    result = Verdict()
    here = own.version if own else 0
    if own is None and verdict == "undecided":
        result.refuse("%s: %s; or record the last master with crm_attribute --type crm_config "
                      "--name %s --update VERSION:METADATA_ID:NODE" % (data_path, reason, hwm_name))
    if own is None and verdict != "empty":
        result.refuse("metadata in %s cannot be restored: %s" % (data_path, reason))
    result.passed("metadata here: %s" % ("none (empty data directory)" if own is None
                                         else "restores to version %d" % here))
    fresher = sorted(((v.version, n) for n, v in peers.items() if v.version > here), reverse=True)
    if fresher and not allow_loss and not result.refusal:
        result.fresher_version, result.fresher_node = fresher[0]
        result.refuse("node %s holds fresher metadata (version %d, here %s); not promoting so "
                      "that Pacemaker promotes %s" % (result.fresher_node, fresher[0][0],
                                                       own.version if own else "none",
                                                       result.fresher_node))
    result.passed("no peer holds fresher metadata (%s)" % (
        ", ".join("%s %d" % (n, v.version) for n, v in sorted(peers.items())) or "no peers"))
    if own is not None and hwm is not None and not own.same_filesystem(hwm):
        result.refuse("metadata here belongs to file system %016X, the cluster's is %016X: "
                      "clean %s" % (own.metaid, hwm.metaid, data_path))
    if hwm is not None and (own is None or here < hwm.version) and not allow_loss:
        result.refuse("metadata here restores to version %s, below the version %d a master of "
                      "this cluster reached: promoting would lose changes; set "
                      "allow_data_loss=true to force it" % (own.version if own else "none",
                                                            hwm.version))
    result.passed("high-water mark: %s" % (
        "none recorded" if hwm is None else "version %d by %s, reached here" % (
            hwm.version, hwm.node or "an unrecorded master")))
    if own is None and (hwm is not None or not allow_new):
        result.refuse("no metadata in %s; set allow_new_filesystem=true to create a new file "
                      "system on a new cluster" % data_path)
    if own is None and fresher:
        result.refuse("no metadata here while peers have some")
    result.passed("may be promoted")
    return result
