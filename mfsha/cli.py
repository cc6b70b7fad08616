"""mfsha: the operator's view of ocf:mfsha:mfsmaster, on any cluster node, as root.

  mfsha status [--json]              every node: role, published version, lag, promotable
  mfsha why NODE [--json]            why NODE would or would not be promoted now
  mfsha inspect DIR [--thorough] [--known VERSION[:FINGERPRINT]] [--last-master-here]
  mfsha archives [--json]            the archives of this node, with their total size
  mfsha archives extract NAME DIR    unpack one archive into DIR (never a live DATA_PATH)

Options: --resource NAME (default: the only ocf:mfsha:mfsmaster primitive in the CIB).
Decisions come from mfsha.election, the code the agent itself elects with. Errors are
one line on stderr and a non-zero exit code.
"""
from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ElementTree

from procrun import Deadline, run

from .election import Freshness, judge, parse_all

TOOL_SECONDS = 15


class UsageError(Exception):
    """A one-line error for the operator (exit code 2 for usage, 1 otherwise)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def tool(argv: list[str]) -> str:
    """stdout of a cluster tool; a failure is an operator error naming the tool."""
    result = run(argv, Deadline(TOOL_SECONDS, reserve=0))
    if not result.ok:
        raise UsageError("no cluster running here? %s" % result.describe())
    return result.stdout


class ClusterView:
    """What the CIB, crm_mon and attrd say about one ocf:mfsha:mfsmaster resource."""

    def __init__(self, resource: str | None) -> None:
        self.cib = ElementTree.fromstring(tool(["cibadmin", "--query", "--local"]))
        self.resource = resource or self._only_resource()
        self.primitive = self._primitive(self.resource)
        self.params = {nv.get("name"): nv.get("value") for nv in
                       self.primitive.iter("nvpair")}
        self.nodes = sorted(n.get("uname") for n in self.cib.iter("node") if n.get("uname"))
        self.status = ElementTree.fromstring(tool(["crm_mon", "--one-shot", "--inactive",
                                                   "--output-as=xml"]))
        self.roles = self._roles()
        self.published = parse_all(self._private("mfsha-%s-freshness" % self.resource))
        self.hwm = Freshness.parse(self._property("mfsha-%s-hwm" % self.resource))

    def _only_resource(self) -> str:
        found = [p.get("id") for p in self.cib.iter("primitive")
                 if p.get("type") == "mfsmaster" and p.get("provider") == "mfsha"]
        if len(found) != 1:
            raise UsageError("%s ocf:mfsha:mfsmaster resources in the CIB (%s): name one with "
                             "--resource" % (len(found) or "no", ", ".join(found) or "none"))
        return found[0]

    def _primitive(self, name: str):
        for primitive in self.cib.iter("primitive"):
            if primitive.get("id") == name:
                if (primitive.get("provider"), primitive.get("type")) != ("mfsha", "mfsmaster"):
                    raise UsageError("resource %s is not ocf:mfsha:mfsmaster" % name)
                return primitive
        raise UsageError("no resource %s in the CIB" % name)

    def _roles(self) -> dict[str, str]:
        roles = {}
        for element in self.status.iter("resource"):
            if element.get("id", "").split(":")[0] == self.resource:
                for node in element.iter("node"):
                    roles[node.get("name")] = element.get("role", "")
        return roles

    def _private(self, name: str) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if k != "OCF_RESKEY_CRM_meta_on_node"}
        result = run(["attrd_updater", "--query", "--all", "--name=" + name],
                     Deadline(TOOL_SECONDS, reserve=0), env=environ)
        from ocf.attributes import parse_query
        return parse_query(result.stdout) if result.ok else {}

    def _property(self, name: str) -> str | None:
        for nvpair in self.cib.iter("nvpair"):
            if nvpair.get("name") == name:
                return nvpair.get("value")
        return None

    def flag(self, name: str) -> bool:
        return (self.params.get(name) or "").lower() in ("true", "yes", "1", "on")

    def promoted(self) -> str | None:
        found = [n for n, r in self.roles.items() if r in ("Promoted", "Master")]
        return found[0] if len(found) == 1 else None

    def why(self, node: str):
        """election.judge for `node`, from what it published (the agent's own inputs)."""
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
        return judge(own, verdict, reason, "the data directory of %s" % node, self.hwm, peers,
                     self.flag("allow_data_loss"), self.flag("allow_new_filesystem"),
                     "mfsha-%s-hwm" % self.resource)

    def rows(self) -> list[dict]:
        newest = max([v.version for v in self.published.values()] +
                     [self.hwm.version if self.hwm else 0])
        rows = []
        for node in self.nodes:
            role = self.roles.get(node, "Stopped")
            own = self.published.get(node)
            row = {"node": node, "role": role,
                   "version": own.version if own else None,
                   "lag_changes": newest - own.version if own else None}
            if role in ("Promoted", "Master"):
                row["promotable"], row["reason"] = True, "runs the master"
            else:
                verdict = self.why(node)
                row["promotable"], row["reason"] = verdict.promotable, verdict.refusal
            rows.append(row)
        return rows


def local_data_path(view: ClusterView) -> str:
    from moosefs import config
    try:
        return config.master(view.params.get("master_cfg") or "/etc/mfs/mfsmaster.cfg").data_path
    except config.ConfigError as error:
        raise UsageError(str(error)) from None


def archiver_of(view: ClusterView):
    from moosefs.archive import Archiver, default_folder
    folder = view.params.get("archive_dir") or default_folder(local_data_path(view))
    return Archiver(folder)


def command_status(view: ClusterView, as_json: bool) -> str:
    rows = view.rows()
    archives = archiver_of(view).archives()
    total = sum(os.path.getsize(p) for p in archives)
    summary = {"resource": view.resource, "nodes": rows,
               "high_water_mark": view.hwm.version if view.hwm else None,
               "last_master": view.hwm.node if view.hwm else None,
               "archives_here": len(archives), "archive_bytes_here": total}
    if as_json:
        return json.dumps(summary, indent=2)
    lines = ["%-12s %-11s %10s %8s  %s" % ("NODE", "ROLE", "VERSION", "LAG", "PROMOTABLE")]
    for row in rows:
        lines.append("%-12s %-11s %10s %8s  %s" % (
            row["node"], row["role"], "-" if row["version"] is None else row["version"],
            "-" if row["lag_changes"] is None else row["lag_changes"],
            "yes" if row["promotable"] else "no: " + row["reason"]))
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


def command_archives(view: ClusterView, args: list[str], as_json: bool) -> str:
    archiver = archiver_of(view)
    if args[:1] == ["extract"]:
        if len(args) != 3:
            raise UsageError("usage: mfsha archives extract NAME DIR", 2)
        return extract(archiver, args[1], args[2], local_data_path(view))
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
        if args[0] not in ("status", "why", "archives"):
            raise UsageError("unknown command %r; see mfsha --help" % args[0], 2)
        if args[0] == "why" and len(args) != 2:
            raise UsageError("usage: mfsha why NODE", 2)
        view = ClusterView(resource)
        if args[0] == "status":
            print(command_status(view, as_json))
        elif args[0] == "why":
            print(command_why(view, args[1], as_json))
        else:
            print(command_archives(view, args[1:], as_json))
        return 0
    except UsageError as error:
        print("mfsha: %s" % error, file=sys.stderr)
        return error.code
    except (OSError, ElementTree.ParseError) as error:
        print("mfsha: %s" % error, file=sys.stderr)
        return 1
