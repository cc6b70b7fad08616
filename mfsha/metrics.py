"""`mfsha metrics`: this node's view of the cluster in the Prometheus text format
(version 0.0.4), for node_exporter's textfile collector.

Cluster-wide figures (each node's version, lag, role, whether it may be promoted, the
high-water mark) come from the same view as `mfsha status`; this node's own history
(its last promote's outcome, duration and steps, refusals by kind, the last client
hold's outcome) from mfsha.records. When the cluster cannot be asked, mfsha_up is 0 and
only this node's own records follow.
"""
from __future__ import annotations

from failover.hold import OUTCOME_KINDS
from failover.promote import REFUSAL_KINDS
from ocf.cib import PROMOTED_ROLES, STABLE_ROLES

from .records import AGENT_KINDS, PROMOTED, steps_of

ROLES = ("Promoted", "Unpromoted", "Stopped")


class Exposition:
    """Metric families in the text format: HELP and TYPE once, then the samples."""

    def __init__(self) -> None:
        self.families: list[tuple[str, str, str, list[tuple[dict[str, str], float]]]] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: list[tuple[dict[str, str], float]]) -> None:
        if samples:
            self.families.append((name, kind, help_text, samples))

    def text(self) -> str:
        lines = []
        for name, kind, help_text, samples in self.families:
            lines.append("# HELP %s %s" % (name, help_text))
            lines.append("# TYPE %s %s" % (name, kind))
            for labels, value in samples:
                lines.append("%s%s %s" % (name, label_text(labels), number(value)))
        return "\n".join(lines) + "\n"

    def data(self) -> list[dict]:
        """The same samples as plain data (`mfsha metrics --json`)."""
        return [{"name": name, "type": kind, "labels": labels, "value": value}
                for name, kind, _, samples in self.families for labels, value in samples]


def label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{%s}" % ",".join('%s="%s"' % (key, escape(value))
                             for key, value in labels.items())


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    return "%d" % value if float(value).is_integer() else "%.3f" % value


def render(resource: str, me: str, view, records: dict[str, str]) -> str:
    return exposition(resource, me, view, records).text()


def exposition(resource: str, me: str, view, records: dict[str, str]) -> Exposition:
    """The exposition: `view` is the cluster (mfsha.cli.ClusterView), None when it
    could not be asked; `records` this node's (mfsha.records); `resource` "" when not
    known."""
    out = Exposition()
    base = {"resource": resource}
    out.family("mfsha_up", "gauge", "1 when the cluster could be asked, else 0.",
               [(base, 1 if view is not None else 0)])
    if view is not None:
        cluster_families(out, base, view)
    if resource:  # without it (no cluster, no --resource) this node's records are unknown
        own_families(out, dict(base, node=me), records)
    return out


def cluster_families(out: Exposition, base: dict[str, str], view) -> None:
    rows = view.rows()

    def per_node(key: str) -> list[tuple[dict[str, str], float]]:
        return [(dict(base, node=r["node"]), r[key]) for r in rows if r[key] is not None]
    out.family("mfsha_node_version", "gauge",
               "Metadata version the node restores to, as it published it.",
               per_node("version"))
    out.family("mfsha_node_lag_changes", "gauge",
               "Changes the node is behind the freshest version known.",
               per_node("lag_changes"))
    out.family("mfsha_node_lag_seconds", "gauge",
               "Seconds between the newest change known and the newest the node holds.",
               per_node("lag_seconds"))
    out.family("mfsha_node_promotable", "gauge",
               "1 when the node runs the master or may be promoted now, else 0.",
               [(dict(base, node=r["node"]), 1 if r["promotable"] else 0) for r in rows])
    out.family("mfsha_node_role", "gauge", "1 for the node's current role.",
               [(dict(base, node=r["node"], role=role),
                 1 if role_of(r["role"]) == role else 0) for r in rows for role in ROLES])
    standbys = [r for r in rows if role_of(r["role"]) == "Unpromoted" and r["promotable"]]
    out.family("mfsha_promotable_standbys", "gauge",
               "Unpromoted nodes that may be promoted now.", [(base, len(standbys))])
    out.family("mfsha_promoted_nodes", "gauge", "Nodes in the Promoted role.",
               [(base, sum(1 for r in rows if role_of(r["role"]) == "Promoted"))])
    if view.hwm is not None:
        out.family("mfsha_high_water_mark_version", "gauge",
                   "The highest version the cluster knows a master reached.",
                   [(base, view.hwm.version)])


def role_of(role: str) -> str:
    """Pacemaker's role names, old and new, as ROLES."""
    if role in PROMOTED_ROLES:
        return "Promoted"
    return "Unpromoted" if role in STABLE_ROLES else "Stopped"


def summed(steps: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """One sample per step name (a step may run twice in one promote), in order."""
    totals: dict[str, float] = {}
    for name, spent in steps:
        totals[name] = totals.get(name, 0.0) + spent
    return list(totals.items())


def own_families(out: Exposition, mine: dict[str, str], records: dict[str, str]) -> None:
    out.family("mfsha_promotes_total", "counter", "Promotes on this node that succeeded.",
               [(mine, int(records.get("promotes") or 0))])
    out.family("mfsha_promote_refusals_total", "counter",
               "Promotes on this node that refused or failed, by reason.",
               [(dict(mine, reason=kind), int(records.get("refusals_" + kind) or 0))
                for kind in REFUSAL_KINDS + AGENT_KINDS])
    if records.get("last_promote_at"):
        out.family("mfsha_last_promote_timestamp_seconds", "gauge",
                   "When this node's last promote ended (Unix time).",
                   [(mine, int(records["last_promote_at"]))])
        out.family("mfsha_last_promote_success", "gauge",
                   "1 when this node's last promote succeeded, else 0.",
                   [(mine, 1 if records.get("last_promote_outcome") == PROMOTED else 0)])
        out.family("mfsha_last_promote_duration_seconds", "gauge",
                   "How long this node's last promote took.",
                   [(mine, float(records.get("last_promote_seconds") or 0))])
        out.family("mfsha_last_promote_step_seconds", "gauge",
                   "How long each step of this node's last promote took.",
                   [(dict(mine, step=name), spent)
                    for name, spent in summed(steps_of(records.get("last_promote_steps", "")))])
    if records.get("last_hold_outcome"):
        out.family("mfsha_last_client_hold_outcome", "gauge",
                   "1 for how the last client hold on this node ended.",
                   [(dict(mine, outcome=kind),
                     1 if records["last_hold_outcome"] == kind else 0)
                    for kind in OUTCOME_KINDS])
