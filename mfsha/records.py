"""What this node's promotes and client holds came to, kept for `mfsha metrics`.

One small state file per resource in HA_RSCTMP, apart from the local state that start and
stop clear: counters must survive a refused promote (which Pacemaker follows with stop
and start). Like HA_RSCTMP they are cleared at reboot, which Prometheus reads as a
counter reset. The agent writes it only in promote and when a client hold ends, never
in a steady monitor.
"""
from __future__ import annotations

import time

from ocf.state import StateFile, rsc_tmp

PROMOTED = "promoted"  # the outcome of a promote that did not fail
FAILED = "failed"      # a promote that failed for a reason outside the election's kinds
# Failures of the agent's own part of a promote, beside failover.promote.REFUSAL_KINDS.
AGENT_KINDS = ("master_start_failed", "not_recorded", FAILED)


def records(resource: str, environ: dict[str, str] | None = None) -> StateFile:
    return StateFile(rsc_tmp(environ), "mfsha-%s.records" % resource)


def record_promote(store: StateFile, outcome: str, seconds: float,
                   steps: list[tuple[str, float]]) -> None:
    """A promote ended: `outcome` is PROMOTED, a refusal kind
    (failover.promote.REFUSAL_KINDS) or FAILED; `steps` its timed steps in order."""
    counter = "promotes" if outcome == PROMOTED else "refusals_" + outcome
    current = store.read()
    store.update(**{
        counter: str(int(current.get(counter) or 0) + 1),
        "last_promote_outcome": outcome,
        "last_promote_at": "%d" % time.time(),
        "last_promote_seconds": "%.3f" % seconds,
        "last_promote_steps": ",".join("%s=%.3f" % (name.replace(" ", "_"), spent)
                                       for name, spent in steps)})


def record_hold(store: StateFile, outcome: str) -> None:
    """A client hold ended with `outcome` (failover.hold.OUTCOME_KINDS)."""
    store.update(last_hold_outcome=outcome, last_hold_at="%d" % time.time())


def steps_of(text: str) -> list[tuple[str, float]]:
    """The steps record_promote wrote, back as (step, seconds)."""
    found = []
    for item in text.split(","):
        name, _, spent = item.partition("=")
        try:
            found.append((name, float(spent)))
        except ValueError:
            continue
    return found
