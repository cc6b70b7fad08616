"""The promote and step-down sequences, the same for every front-end.

Promote: stop the metalogger, read the mark, inspect this node's files, elect, restore.
Starting the master and recording the promotion follow in the front-end
(steps.start_master, its own records), which knows how its cluster learns of a master.
Step down: stop the master cleanly, record the version it reached, start the metalogger.

A front-end hands in a `Cluster`: where the mark is stored and how peers are asked.
"""
from __future__ import annotations

from .election import Rules, Verdict, judge
from .mark import NOTHING, Freshness
from .steps import check_inspection_time, inspect_own, restore


class CannotTell(Exception):
    """The cluster could not be asked (a tool failed, no answer in time): a rule that
    needs the answer refuses instead of taking it as absent."""


# Why a promote refused, as labels for metrics: the election's rules, then the sequence's.
REFUSAL_KINDS = ("peer_master", "history_unknown", "not_restorable", "fresher_peer",
                 "other_filesystem", "below_mark", "no_metadata", "empty_beside_peers",
                 "inspection_time", "mark_unknown", "peers_unknown", "restore_time",
                 "restore_failed")


class Refused(Exception):
    """The promote refuses, nothing of the cluster's history changed. `kind` is one of
    REFUSAL_KINDS; `verdict` is the election's when it refused; `own_files` says that
    this node's own files failed, so it must not be tried again while they stay the same."""

    def __init__(self, kind: str, reason: str, verdict: Verdict | None = None,
                 own_files: Freshness | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.verdict = verdict
        self.own_files = own_files


class Cluster:
    """What a front-end's cluster offers the sequences (a plain base class: `typing`
    costs every monitor its import). `me` is this node's name in the mark."""

    me = ""

    def read_mark(self) -> Freshness | None:
        """The high-water mark (None: never recorded); CannotTell."""

    def peers(self, own: Freshness | None) -> tuple[dict[str, Freshness], list[str]]:
        """(the reachable peers' freshness, those of them that run a master); CannotTell."""

    def record_reached(self, version: int, metaid: int) -> None:
        """This node's master stopped cleanly at `version`: raise the mark by its rule
        (failover.mark.raises), if this front-end promoted that master."""

    def mark_for_metalogger(self) -> Freshness | None:
        """The mark as best known now, for the metalogger's start (a hint: a copy of a
        history ahead of it is archived)."""


class Restored:
    """What a promote restored: this node's freshness and the mark it was held to before,
    and the moosefs.restore.RestoreResult."""

    def __init__(self, own: Freshness | None, mark: Freshness | None, result) -> None:
        self.own = own
        self.mark = mark
        self.result = result


def promote(node, cluster: Cluster, rules: Rules, archiver, deadline, log,
            store=None) -> Restored:
    """Up to a restored data directory, or Refused. `store` is the scan cache
    (steps.inspect_own)."""
    from moosefs.restore import RestoreError, TooLittleTime
    with log.step("metalogger stop"):
        node.metalogger.stop(deadline.remaining() / 4)  # a clean stop flushes its last lines
    with log.step("inspection") as step:
        too_long = check_inspection_time(node, store, deadline)
        if too_long:
            raise Refused("inspection_time", too_long)
        try:
            mark = cluster.read_mark()
        except CannotTell as error:
            step.note = "high-water mark unknown"
            raise Refused("mark_unknown", "could not read the cluster's high-water mark "
                          "(%s); not promoting without it" % error) from None
        own, found = inspect_own(node, mark, cluster.me, store)
        step.note = "%s; high-water mark %s" % (found.summary(), mark.text() if mark else "none")
    with log.step("election"):
        try:
            peers, masters = cluster.peers(own)
        except CannotTell as error:
            raise Refused("peers_unknown", "could not ask the cluster for its members' "
                          "freshness (%s); not promoting without it" % error) from None
        verdict = judge(own, found.verdict, found.reason, node.data_path, mark, peers, rules,
                        masters)
        if verdict.refusal:
            raise Refused(verdict.kind, verdict.refusal, verdict=verdict)
    with log.step("restore") as step:
        try:
            result = restore(node, deadline, archiver, own, mark, cluster.me,
                             rules.allow_data_loss, store)
        except TooLittleTime as error:
            step.note = str(error)
            raise Refused("restore_time", str(error)) from None
        except RestoreError as error:
            step.note = str(error)
            raise Refused("restore_failed", "restore failed: %s" % error,
                          own_files=own or NOTHING) from None
        step.note = "restored to version %d; %s (%.3f s)" % (
            result.version, " ".join(result.command) or "new empty file system",
            result.command_seconds)
    if result.archive:
        log.info("files set aside before the restore: %s" % result.archive)
    return Restored(own, mark, result)


def step_down(node, cluster: Cluster, fast: bool, archiver, seconds: float, log) -> None:
    """The master stopped cleanly (steps.stop_master) and the version it reached
    recorded, then the metalogger started; each part is skipped when already done.
    StepFailed when a daemon would not stop or start."""
    from .steps import start_metalogger, stop_master
    image = stop_master(node, seconds, fast, log)
    if image is not None:
        cluster.record_reached(image.version, image.metaid)
    if not node.metalogger.pid():
        mark = cluster.mark_for_metalogger()
        with log.step("metalogger start") as step:
            start_metalogger(node, seconds, archiver, mark, cluster.me, log)
            step.note = "pid %d" % node.metalogger.pid()
