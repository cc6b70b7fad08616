"""mfsha: the operator's view of ocf:mfsha:mfsmaster, on any cluster node.

Read-only commands (status, why, metrics, archives, inspect) work for root and for
members of the haclient group; switchover and archives extract need root. Decisions
come from failover.election, the code the agent itself elects with. Errors are one line
on stderr: exit code 1, or 2 for a usage error. `mfsha --help` lists the commands.
"""
from __future__ import annotations

import json
import os
import sys

from failover.election import judge
from failover.mark import CHANGE_TOLERANCE, Freshness, parse_all
from ocf.cib import (PROMOTED_ROLES, CibError, ResourceView, cluster_option, delete_location,
                     location_ids)

from . import store

SWITCHOVER_SECONDS = 120  # how long a planned switchover is waited for (--timeout)
CLUSTER_GROUP = "haclient"  # Pacemaker lets its members read the cluster


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
        self.hwm = Freshness.parse(cluster_option(store.hwm_property(self.resource)))

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
            if role in PROMOTED_ROLES:
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
    try:
        archives = view.archiver().archives()
        total = sum(os.path.getsize(p) for p in archives)
    except OSError:  # the archive folder is root's; a haclient member may not read it
        archives, total = None, None
    summary = {"resource": view.resource, "nodes": rows,
               "high_water_mark": view.hwm.version if view.hwm else None,
               "last_master": view.hwm.node if view.hwm else None,
               "archives_here": None if archives is None else len(archives),
               "archive_bytes_here": total}
    if as_json:
        return json.dumps(summary, indent=2)
    lines = ["%-12s %-11s %10s %8s %8s  %s" % ("NODE", "ROLE", "VERSION", "LAG", "LAG (s)",
                                              "PROMOTABLE")]
    for row in rows:
        lines.append("%-12s %-11s %10s %8s %8s  %s" % (
            row["node"], row["role"], "-" if row["version"] is None else row["version"],
            "-" if row["lag_changes"] is None else row["lag_changes"],
            "-" if row["lag_seconds"] is None else row["lag_seconds"],
            "promoted (runs the master)" if row["role"] in PROMOTED_ROLES
            else "yes" if row["promotable"] else "no: " + row["reason"]))
    lines.append("versions and lags as the nodes published them (exact to %d changes; "
                 "seconds between the times of the newest changes held)" % CHANGE_TOLERANCE)
    lines.append("high-water mark: %s; last master: %s" % (
        summary["high_water_mark"] if view.hwm else "none", summary["last_master"] or "unknown"))
    lines.append("archives on this node: %s" % (
        "not readable by this user" if archives is None
        else "%d, %.1f MiB" % (len(archives), total / 2**20)))
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


def command_switchover(view: ClusterView, target: str | None, timeout: float = SWITCHOVER_SECONDS,
                       as_json: bool = False) -> str:
    """A planned switchover: refused unless safe, waited for at most `timeout` seconds,
    the move constraint always removed."""
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
        until = started + timeout
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
            raise UsageError("%s did not become a serving master within %g s; see crm_mon "
                             "(the move constraint is removed)" % (target, timeout))
    finally:
        # Only what the move created (a preference for the target and, with --force, a
        # ban of the old node): a ban or move an administrator set stays.
        for created in sorted(location_ids() - constraints_before):
            delete_location(created)
    seconds = time.monotonic() - started
    if as_json:
        return json.dumps({"from": old, "to": target, "address": address,
                           "seconds": round(seconds, 1)}, indent=2)
    return "switchover %s -> %s: mfsmaster serving at %s %.1f s after the move" % (
        old, target, address or "the new node", seconds)


def serving(address: str, view: ClusterView) -> bool:
    from moosefs.daemons import serving as accepts
    try:
        port = view.local_node().client_address()[1]
    except UsageError:
        port = 9421
    return accepts(address, port, timeout=0.5)


def command_archives(view: ClusterView, as_json: bool) -> str:
    archiver = view.archiver()
    listing = [{"name": os.path.basename(p), "bytes": os.path.getsize(p)}
               for p in archiver.archives()]
    if as_json:
        return json.dumps({"folder": archiver.folder, "archives": listing}, indent=2)
    return "\n".join(["%s  %d bytes" % (a["name"], a["bytes"]) for a in listing] +
                     ["%d archives in %s" % (len(listing), archiver.folder)])


def extract(archiver, name: str, target: str, data_path: str) -> dict:
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
    return {"archive": name, "files": len(members), "folder": target}


def command_extract(view: ClusterView, name: str, target: str, as_json: bool) -> str:
    done = extract(view.archiver(), name, target, view.local_node().data_path)
    if as_json:
        return json.dumps(done, indent=2)
    return "%(files)d files of %(archive)s extracted into %(folder)s" % done


def command_metrics(resource: str | None, output: str | None, as_json: bool) -> int:
    """The Prometheus text of mfsha.metrics (or its samples as JSON), on stdout or
    written atomically to `output` (node_exporter reads a textfile collector's files at
    any time). Exit 1 when the cluster could not be asked; the text still says so
    (mfsha_up 0)."""
    from .metrics import exposition
    from .records import records
    failure = ""
    try:
        view = ClusterView(resource)
        resource = view.resource
    except (CibError, UsageError, OSError) as error:
        view, failure = None, str(error)
    me = os.uname().nodename
    own = records(resource).read() if resource else {}
    found = exposition(resource or "", me, view, own)
    text = json.dumps(found.data(), indent=2) + "\n" if as_json else found.text()
    if output:
        write_atomically(output, text)
    else:
        sys.stdout.write(text)
    if failure:
        raise UsageError(failure)
    return 0


def write_atomically(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(temporary, "w") as stream:
        stream.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def version_text() -> str:
    from .info import INFO
    return "mfsha %s (ocf:mfsha:%s)" % (INFO.version, INFO.name)


def one_line_parser():
    """argparse's parser, its usage errors one line with exit code 2 (argparse prints
    the whole usage first)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str):
            self.exit(2, "%s: %s (see %s --help)\n" % (self.prog, message, self.prog))
    return Parser


def parser():
    """The command line; `man/mfsha.8` documents each command and option it has."""
    import argparse
    Parser = one_line_parser()
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")
    common.add_argument("--resource", metavar="NAME", default=argparse.SUPPRESS,
                        help="the ocf:mfsha:mfsmaster primitive (default: the only one)")
    top = Parser(
        prog="mfsha", parents=[common], allow_abbrev=False,
        description="See and explain the election of ocf:mfsha:mfsmaster, switch over, "
                    "read this node's archives and metrics.",
        epilog="Read-only commands work for root and the haclient group; switchover and "
               "archives extract need root. See mfsha(8).")
    top.add_argument("--version", action="version", version=version_text())
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, with_common: bool = True, under=commands):
        return under.add_parser(name, help=help_text, allow_abbrev=False,
                                parents=[common] if with_common else [])
    command("status", "every node: role, version, lag, whether it may be promoted")
    why = command("why", "why NODE would or would not be promoted now")
    why.add_argument("node", metavar="NODE")
    switch = command("switchover", "move the master to NODE (default: the freshest)")
    switch.add_argument("node", metavar="NODE", nargs="?")
    switch.add_argument("--timeout", type=positive_seconds, default=SWITCHOVER_SECONDS,
                        metavar="SECONDS", help="wait at most this long (default %(default)s)")
    inspect = command("inspect", "what a MooseFS data directory restores to", with_common=False)
    from moosefs.__main__ import add_inspect_options
    add_inspect_options(inspect, json_default=argparse.SUPPRESS)
    archives = command("archives", "this node's archives; `archives extract NAME DIR`")
    actions = archives.add_subparsers(dest="archive_command", metavar="extract")
    extract_one = command("extract", "unpack archive NAME into an empty folder DIR",
                          under=actions)
    extract_one.add_argument("name", metavar="NAME")
    extract_one.add_argument("folder", metavar="DIR")
    metrics = command("metrics", "this node's view in the Prometheus text format")
    metrics.add_argument("--output", metavar="FILE",
                         help="write FILE atomically (node_exporter's textfile collector)")
    return top


def positive_seconds(text: str) -> float:
    import argparse
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0
    if not 0 < seconds < 86400:
        raise argparse.ArgumentTypeError("%r is not a number of seconds" % text)
    return seconds


def may_read_cluster() -> bool:
    """Root, or a member of Pacemaker's haclient group."""
    import grp
    if os.geteuid() == 0:
        return True
    try:
        return grp.getgrnam(CLUSTER_GROUP).gr_gid in os.getgroups() + [os.getegid()]
    except KeyError:
        return False


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv[1:])
    as_json = getattr(args, "json", False)
    resource = getattr(args, "resource", None)
    try:
        if args.command == "inspect":
            from moosefs.__main__ import parse_known, run_inspect
            try:
                known = parse_known(args.known, args.last_master_here)
            except ValueError as error:
                raise UsageError(str(error), 2) from None
            return run_inspect(args.data_path, args.thorough, known, as_json)
        writes = args.command == "switchover" or getattr(args, "archive_command", None)
        if writes and os.geteuid() != 0:
            raise UsageError("run as root (it changes the cluster or this node's files)")
        if not may_read_cluster():
            raise UsageError("run as root or as a member of the %s group (the cluster tools "
                             "need it)" % CLUSTER_GROUP)
        if args.command == "metrics":
            return command_metrics(resource, args.output, as_json)
        view = ClusterView(resource)
        if args.command == "status":
            print(command_status(view, as_json))
        elif args.command == "why":
            print(command_why(view, args.node, as_json))
        elif args.command == "switchover":
            print(command_switchover(view, args.node, args.timeout, as_json))
        elif args.archive_command == "extract":
            print(command_extract(view, args.name, args.folder, as_json))
        else:
            print(command_archives(view, as_json))
        return 0
    except (UsageError, CibError, OSError) as error:
        print("mfsha: %s" % error, file=sys.stderr)
        return getattr(error, "code", 1) if isinstance(error, UsageError) else 1
