"""mfsha: the operator's view of ocf:mfsha:mfsmaster, on any cluster node, as root.

  mfsha status [--json]              every node: role, published version, lag, promotable
  mfsha why NODE [--json]            why NODE would or would not be promoted now
  mfsha switchover [NODE]            move the master to NODE (default: the freshest), wait
                                     until it serves, always remove the move constraint
  mfsha inspect DIR [--thorough] [--known VERSION[:FINGERPRINT]] [--last-master-here]
  mfsha archives [--json]            the archives of this node, with their total size
  mfsha archives extract NAME DIR    unpack one archive into DIR (never a live DATA_PATH)

Options: --resource NAME (default: the only ocf:mfsha:mfsmaster primitive in the CIB).
Decisions come from failover.election, the code the agent itself elects with. Errors are
one line on stderr and a non-zero exit code.
"""
from __future__ import annotations

import json
import os
import sys

from failover.election import judge
from failover.mark import CHANGE_TOLERANCE, Freshness, parse_all
from ocf.cib import CibError, ResourceView, delete_location, location_ids

from . import store

SWITCHOVER_SECONDS = 120  # the longest a planned switchover is waited for


class UsageError(Exception):
    """A one-line error for the operator (exit code 2 for usage, 1 otherwise)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class ClusterView(ResourceView):
    """One ocf:mfsha:mfsmaster resource: the CIB and crm_mon (ocf.cib), and what its
    nodes published (mfsha.store)."""

    def __init__(self, resource: str | None) -> None:
        super().__init__("mfsha", "mfsmaster", resource)
        self.published = parse_all(self._private(store.freshness_attribute(self.resource)))
        self.stamps = {n: int(t) for n, t in self._private(store.stamp_attribute(
            self.resource)).items() if t.isdigit() and int(t)}
        self.hwm = Freshness.parse(self.cluster_property(store.hwm_property(self.resource)))

    def _private(self, name: str) -> dict[str, str]:
        from ocf.attributes import query_all
        from procrun import Deadline
        return query_all(name, Deadline(15, reserve=0))

    def rules(self):
        return store.rules(self.resource, self.flag("allow_data_loss"),
                           self.flag("allow_new_filesystem"))

    def why(self, node: str):
        """failover.election.judge for `node`, from what it published (the agent's own
        inputs)."""
        if node not in self.nodes:
            raise UsageError("no node %s in the cluster (nodes: %s)" % (node, ", ".join(self.nodes)))
        own = self.published.get(node)
        peers = {n: v for n, v in self.published.items() if n != node}
        if own is not None and own.version == 0:
            own, verdict, reason = None, "empty", ""
        elif own is None:
            verdict, reason = "unpublished", "the node publishes no freshness (not Unpromoted?)"
        else:
            verdict, reason = "restorable", ""
        hwm = self.hwm
        if own is not None:
            # Published versions are coarse: a node publishes again only once it moved by
            # CHANGE_TOLERANCE, and the master's mark follows by as much. Within that, a
            # version is no fresher here; promote itself compares exact versions.
            peers = {n: v if v.version > own.version + CHANGE_TOLERANCE
                     else Freshness(min(v.version, own.version), v.metaid)
                     for n, v in peers.items()}
            if hwm is not None and hwm.version <= own.version + CHANGE_TOLERANCE:
                hwm = Freshness(min(hwm.version, own.version), hwm.metaid, hwm.node,
                                hwm.fingerprint)
        return judge(own, verdict, reason, "the data directory of %s" % node, hwm, peers,
                     self.rules())

    def rows(self) -> list[dict]:
        newest = max([v.version for v in self.published.values()] +
                     [self.hwm.version if self.hwm else 0])
        newest_stamp = max(self.stamps.values(), default=0)
        rows = []
        for node in self.nodes:
            role = self.roles.get(node, "Stopped")
            own = self.published.get(node)
            row = {"node": node, "role": role,
                   "version": own.version if own else None,
                   "lag_changes": newest - own.version if own else None,
                   "lag_seconds": newest_stamp - self.stamps[node] if node in self.stamps
                   else None}
            if role in ("Promoted", "Master"):
                row["promotable"], row["reason"] = True, "runs the master"
            else:
                verdict = self.why(node)
                row["promotable"], row["reason"] = verdict.promotable, verdict.refusal
            rows.append(row)
        return rows

    def local_node(self):
        """This node's MooseFS installation, as the resource's parameters name it."""
        from moosefs.config import ConfigError
        from moosefs.node import LocalNode
        try:
            return LocalNode(self.params.get("master_cfg") or "/etc/mfs/mfsmaster.cfg",
                             self.params.get("metalogger_cfg") or "/etc/mfs/mfsmetalogger.cfg")
        except ConfigError as error:
            raise UsageError(str(error)) from None

    def archiver(self):
        node = self.local_node()
        return node.archiver(self.params.get("archive_dir") or "",
                             int(self.params.get("archive_keep") or 20),
                             int(self.params.get("archive_max_mb") or 10240))


def command_status(view: ClusterView, as_json: bool) -> str:
    rows = view.rows()
    archives = view.archiver().archives()
    total = sum(os.path.getsize(p) for p in archives)
    summary = {"resource": view.resource, "nodes": rows,
               "high_water_mark": view.hwm.version if view.hwm else None,
               "last_master": view.hwm.node if view.hwm else None,
               "archives_here": len(archives), "archive_bytes_here": total}
    if as_json:
        return json.dumps(summary, indent=2)
    lines = ["%-12s %-11s %10s %8s %8s  %s" % ("NODE", "ROLE", "VERSION", "LAG", "LAG (s)",
                                              "PROMOTABLE")]
    for row in rows:
        lines.append("%-12s %-11s %10s %8s %8s  %s" % (
            row["node"], row["role"], "-" if row["version"] is None else row["version"],
            "-" if row["lag_changes"] is None else row["lag_changes"],
            "-" if row["lag_seconds"] is None else row["lag_seconds"],
            "promoted (runs the master)" if row["role"] in ("Promoted", "Master")
            else "yes" if row["promotable"] else "no: " + row["reason"]))
    lines.append("versions and lags as the nodes published them (exact to %d changes; "
                 "seconds between the times of the newest changes held)" % CHANGE_TOLERANCE)
    lines.append("high-water mark: %s; last master: %s" % (
        summary["high_water_mark"] if view.hwm else "none", summary["last_master"] or "unknown"))
    lines.append("archives on this node: %d, %.1f MiB" % (len(archives), total / 2**20))
    return "\n".join(lines)


def command_why(view: ClusterView, node: str, as_json: bool) -> str:
    verdict = view.why(node)
    if view.promoted() == node:
        steps, outcome = ["%s is the Promoted node: it runs the master" % node], "promoted"
    else:
        steps = verdict.steps + ([verdict.refusal] if verdict.refusal else [])
        outcome = "may be promoted" if verdict.promotable else "would not be promoted"
    if as_json:
        return json.dumps({"node": node, "outcome": outcome, "steps": steps}, indent=2)
    return "\n".join(["%s %s:" % (node, outcome)] +
                     ["  %d. %s" % (i, step) for i, step in enumerate(steps, 1)])


def command_switchover(view: ClusterView, target: str | None) -> str:
    """A planned switchover: refused unless safe, the move constraint always removed."""
    import time
    if not view.quorate():
        raise UsageError("this partition has no quorum: no switchover")
    old = view.promoted()
    if not view.settled() or old is None:
        raise UsageError("the cluster is not settled (roles: %s): a failover may be under way"
                         % (", ".join("%s %s" % i for i in sorted(view.roles.items())) or "none"))
    candidates = [row for row in view.rows() if row["node"] != old and row["promotable"]
                  and row["lag_changes"] is not None]
    if target is None:
        if not candidates:
            raise UsageError("no node may be promoted now; see mfsha status")
        target = max(candidates, key=lambda row: (row["version"], row["node"]))["node"]
    if target == old:
        raise UsageError("%s is already the Promoted node" % target)
    verdict = view.why(target)
    if not verdict.promotable:
        raise UsageError("%s may not be promoted: %s" % (target, verdict.refusal))
    lag = next(row["lag_changes"] for row in view.rows() if row["node"] == target)
    if lag is None or lag > CHANGE_TOLERANCE:
        raise UsageError("%s lags %s changes behind: let it catch up first" % (target, lag))
    clone, address = view.clone(), view.colocated_address()
    earlier_failures = view.failures(target, "promote")
    constraints_before = location_ids()
    started = time.monotonic()
    from ocf.cib import tool
    tool(["crm_resource", "--move", "--promoted", "--resource", clone, "--node", target,
          "--force"])
    try:
        until = started + SWITCHOVER_SECONDS
        while time.monotonic() < until:
            now = ClusterView(view.resource)
            if now.promoted() == target and now.settled() and \
                    (address is None or serving(address, view)):
                break
            refusals = now.failures(target, "promote") - earlier_failures
            if refusals:  # the agent's own checks, on fresher data than published
                raise UsageError("%s refused the promotion: %s; Pacemaker keeps the master "
                                 "elsewhere (crm_resource --cleanup clears the failure)"
                                 % (target, sorted(refusals)[-1][1]))
            time.sleep(0.2)
        else:
            raise UsageError("%s did not become a serving master within %d s; see crm_mon "
                             "(the move constraint is removed)" % (target, SWITCHOVER_SECONDS))
    finally:
        # Only what the move created (a preference for the target and, with --force, a
        # ban of the old node): a ban or move an administrator set stays.
        for created in sorted(location_ids() - constraints_before):
            delete_location(created)
    return "switchover %s -> %s: mfsmaster serving at %s %.1f s after the move" % (
        old, target, address or "the new node", time.monotonic() - started)


def serving(address: str, view: ClusterView) -> bool:
    from moosefs.daemons import serving as accepts
    try:
        port = view.local_node().client_address()[1]
    except UsageError:
        port = 9421
    return accepts(address, port, timeout=0.5)


def command_archives(view: ClusterView, args: list[str], as_json: bool) -> str:
    archiver = view.archiver()
    if args[:1] == ["extract"]:
        if len(args) != 3:
            raise UsageError("usage: mfsha archives extract NAME DIR", 2)
        return extract(archiver, args[1], args[2], view.local_node().data_path)
    archives = archiver.archives()
    listing = [{"name": os.path.basename(p), "bytes": os.path.getsize(p)} for p in archives]
    if as_json:
        return json.dumps({"folder": archiver.folder, "archives": listing}, indent=2)
    return "\n".join(["%s  %d bytes" % (a["name"], a["bytes"]) for a in listing] +
                     ["%d archives in %s" % (len(listing), archiver.folder)])


def extract(archiver, name: str, target: str, data_path: str) -> str:
    import tarfile
    path = os.path.join(archiver.folder, os.path.basename(name))
    if not os.path.isfile(path):
        raise UsageError("no archive %s in %s" % (name, archiver.folder))
    target = os.path.realpath(target)
    if target == os.path.realpath(data_path) or any(
            n.startswith((".mfsmaster", ".mfsmetalogger", "metadata", "changelog"))
            for n in (os.listdir(target) if os.path.isdir(target) else [])):
        raise UsageError("%s is a MooseFS data directory: extract into an empty folder" % target)
    os.makedirs(target, exist_ok=True)
    with tarfile.open(path) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and "/" not in m.name]
        tar.extractall(target, members=members)
    return "%d files of %s extracted into %s" % (len(members), name, target)


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if a != "--json"]
    as_json = "--json" in argv
    resource = None
    if "--resource" in args:
        index = args.index("--resource")
        resource = args[index + 1] if index + 1 < len(args) else ""
        del args[index:index + 2]
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0 if args else 2
    try:
        if args[0] == "inspect":
            from moosefs.__main__ import main as inspect_main
            return inspect_main(["mfsha"] + args)
        if os.geteuid() != 0:
            raise UsageError("run as root (the cluster tools and the data directory need it)")
        if args[0] not in ("status", "why", "switchover", "archives"):
            raise UsageError("unknown command %r; see mfsha --help" % args[0], 2)
        if args[0] == "why" and len(args) != 2:
            raise UsageError("usage: mfsha why NODE", 2)
        view = ClusterView(resource)
        if args[0] == "status":
            print(command_status(view, as_json))
        elif args[0] == "why":
            print(command_why(view, args[1], as_json))
        elif args[0] == "switchover":
            print(command_switchover(view, args[1] if len(args) > 1 else None))
        else:
            print(command_archives(view, args[1:], as_json))
        return 0
    except UsageError as error:
        print("mfsha: %s" % error, file=sys.stderr)
        return error.code
    except CibError as error:
        print("mfsha: %s" % error, file=sys.stderr)
        return 1
    except OSError as error:
        print("mfsha: %s" % error, file=sys.stderr)
        return 1
