#!/usr/bin/python3
"""Failover times of a real 3-node cluster (namespaces on this machine), for a crash of
the Promoted node and a planned switchover: fault -> virtual IP up elsewhere ->
mfsmaster accepting connections -> the client's first read and write. Next to it,
the same cluster with ocf:pacemaker:Stateful in place of our agent: the floor that
Pacemaker itself sets. Then the agent's own step lines from every node's Pacemaker log:
where promote and demote spent their time, and promote's overhead (its total less
MooseFS's own restore, start and first accepted connection).
The agent runs twice: as the example configures it (clients held off after a promote
until the chunkserver is back, client_hold), then with client_hold=0.
Set BENCH_TRIALS (default 10), BENCH_PLATFORM (debian12, the default, or debian13:
nodes on Debian 13 with Pacemaker 3.0 and MooseFS 4.57, see lab/harness.py) and
BENCH_UNHELD=0 to skip the client_hold=0 run."""
from __future__ import annotations

import os
import re
import statistics
import sys
import time

from common import ROOT

sys.path.insert(0, ROOT)

from lab import scenarios as sc  # noqa: E402
from lab.harness import Cluster, wait_for  # noqa: E402

TRIALS = int(os.environ.get("BENCH_TRIALS", "10"))
PLATFORM = os.environ.get("BENCH_PLATFORM", "debian12")
STATEFUL = """primitive st ocf:pacemaker:Stateful \\
    op monitor interval=10s role=Promoted timeout=20s \\
    op monitor interval=11s role=Unpromoted timeout=20s
clone st-clone st meta promotable=true notify=true promoted-max=1 promoted-node-max=1 \\
    clone-max=3 clone-node-max=1 interleave=true
primitive st-vip IPaddr2 params ip=%s cidr_netmask=24 op monitor interval=10s timeout=20s
colocation st-vip-with-promoted inf: st-vip st-clone:Promoted
order st-promote-then-vip Mandatory: st-clone:promote st-vip:start symmetrical=false
order st-demote-then-stop-vip Mandatory: st-clone:demote st-vip:stop symmetrical=false
"""


def stateful_healthy(cluster: Cluster):
    promoted = cluster.promoted("st-clone")
    roles = cluster.roles("st-clone") or {}
    if promoted and len(roles) == 3 and cluster.vip_holders() == [promoted]:
        return promoted
    return None


# crash: power the Promoted node off; move: crm_resource --move; standby: crm node
# standby; kill: kill -9 of mfsmaster (Pacemaker's monitor must notice; Stateful has no
# daemon to kill, so it has no floor for it). BENCH_KINDS picks some, e.g. "kill,move".
KINDS = tuple(os.environ.get("BENCH_KINDS", "crash,move,standby,kill").split(","))
FLOOR_KINDS = tuple(k for k in KINDS if k != "kill")
UNHELD = os.environ.get("BENCH_UNHELD", "1") != "0"


def fault_of(cluster: Cluster, kind: str, old: str, clone: str):
    if kind == "crash":
        return lambda: cluster.crash(old)
    if kind == "kill":
        return lambda: sc.kill_master(cluster, old)
    if kind == "standby":
        return lambda: cluster.nx(cluster.any_node(), ["crm", "node", "standby", old])
    target = [n for n in cluster.nodes if n != old][0]
    return lambda: cluster.nx(cluster.any_node(), [
        "crm_resource", "--move", "--promoted", "-r", clone, "-N", target, "--force"])


def undo_fault(cluster: Cluster, kind: str, old: str, clone: str) -> None:
    """Power the node on, bring it online or clear the move (the next trial settles)."""
    if kind == "crash":
        sc.restore_node(cluster, old)
    elif kind == "standby":
        cluster.nx(cluster.any_node(), ["crm", "node", "online", old], check=False)
    else:
        cluster.nx(cluster.any_node(), ["crm_resource", "--clear", "-r", clone], check=False)


def run_trials(cluster, client, kind: str, settle, clone: str) -> list[dict]:
    rows = []
    for _ in range(TRIALS):
        old = settle()
        timing = sc.timed_failover(cluster, client, fault_of(cluster, kind, old, clone), old,
                                   moves=kind != "kill")
        rows.append(timing.row())
        undo_fault(cluster, kind, old, clone)
        cluster.nx(cluster.any_node(), ["crm_resource", "--cleanup"], check=False)
        time.sleep(2)
    return rows


STEP = re.compile(r"step (?P<what>[a-z ]+?)(?: failed)?(?:: (?P<note>.*))? \((?P<s>[0-9.]+) s\)$")
TOTAL = re.compile(r"(?P<action>promoted|demoted)\b.*\((?P<s>[0-9.]+) s in all\)$")
RESTORE_COMMAND = re.compile(r"\((?P<s>[0-9.]+) s\)$")
# the next Promoted monitor's report of the promote's client hold (mfsha.hold)
LET_IN = re.compile(r"client hold: (?P<found>.*); clients let in (?P<s>[0-9.]+) s after")
# MooseFS's own work in promote: the restore command, loading the metadata at start,
# and the wait for its first accepted connection
MOOSEFS_STEPS = ("master start", "first accepted connection")


def agent_steps(cluster: Cluster) -> dict[str, list[float]]:
    """Seconds per step name, and per whole promote/demote, from every node's log; and
    "promote overhead": per promote, its total less MooseFS's own steps in it."""
    found: dict[str, list[float]] = {}
    for node in cluster.nodes:
        current: dict[str, float] = {}  # the steps of the action under way on this node
        for line in cluster.log_tail(node, 10 ** 6).splitlines():
            line = line.rstrip()
            step, total, let_in = STEP.search(line), TOTAL.search(line), LET_IN.search(line)
            if let_in:
                found.setdefault("clients let in after master start", []).append(
                    float(let_in["s"]))
                if let_in["found"] != "every chunkserver back":
                    found.setdefault("clients let in without every chunkserver", []).append(1.0)
            elif step:
                found.setdefault(step["what"], []).append(float(step["s"]))
                current[step["what"]] = float(step["s"])
                command = RESTORE_COMMAND.search(step["note"] or "")
                if step["what"] == "restore" and command:
                    found.setdefault("restore command", []).append(float(command["s"]))
                    current["restore command"] = float(command["s"])
            elif total:
                found.setdefault(total["action"], []).append(float(total["s"]))
                if total["action"] == "promoted":
                    own = sum(current.get(n, 0.0) for n in MOOSEFS_STEPS + ("restore command",))
                    found.setdefault("promote overhead", []).append(float(total["s"]) - own)
                current = {}
    return found


def report_steps(steps: dict[str, list[float]]) -> None:
    median = statistics.median
    steps = dict(steps)
    without = len(steps.pop("clients let in without every chunkserver", []))
    if "clients let in after master start" in steps:
        print("client hold: clients let in without every chunkserver back in %d of %d holds"
              % (without, len(steps["clients let in after master start"])))
    for name in sorted(n for n in steps if n != "promote overhead"):
        print("agent step %-30s median %6.3f s  max %6.3f s  (n=%d)" % (
            name, median(steps[name]), max(steps[name]), len(steps[name])))
    if steps.get("promote overhead"):
        print("promote overhead (each promote's total less MooseFS's restore command, master "
              "start and first accepted connection): median %.3f s (target: at most 0.15 s)"
              % median(steps["promote overhead"]))


def report(label: str, rows: list[dict]) -> None:
    for row in rows:
        if row["read"] is not None and row["write"] is not None:
            row["outage"] = max(row["read"], row["write"])
    for key in ("vip", "serving", "chunkserver", "mount", "read", "write", "outage"):
        values = [r[key] for r in rows if r.get(key) is not None]
        if values:
            print("%-34s %-8s median %6.2f s  max %6.2f s  (n=%d)" % (
                label, key, statistics.median(values), max(values), len(values)))


def report_against_floor(kind: str, rows: list[dict], floor_rows: list[dict]) -> None:
    """The issue's measures: how far behind the floor's VIP the master and the client are."""
    median = statistics.median
    floor_vip = median(r["vip"] for r in floor_rows)
    served = [r["serving"] for r in rows if r.get("serving") is not None]
    within = sum(1 for r in rows if r.get("outage", 1e9) <= floor_vip + 1.5)
    print("%-34s VIP +%.2f s, mfsmaster accepting +%.2f s after the floor's VIP (%.2f s); "
          "client I/O within floor + 1.5 s in %d of %d" % (
              kind, median(r["vip"] for r in rows) - floor_vip,
              median(served) - floor_vip if served else float("nan"), floor_vip,
              within, len(rows)))


# a read later than the write by this much waited for mfsmount's chunk-location retry
READ_RETRY_SEEN = 5.0


def stalled_reads(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("read") is not None and r.get("write") is not None
            and r["read"] - r["write"] >= READ_RETRY_SEEN]


def report_client_wait(kind: str, rows: list[dict]) -> None:
    """What the client adds after the master accepts: mfsmount reconnects every 2 s
    (mastercomm.c) and retries a read without chunk locations after 10 s (readdata.c)."""
    waits = [r["outage"] - r["serving"] for r in rows
             if r.get("outage") is not None and r.get("serving") is not None]
    if waits:
        print("%-34s client after mfsmaster accepts: median %.2f s, max %.2f s; reads that "
              "waited for the 10-s chunk-location retry: %d of %d" % (
                  kind, statistics.median(waits), max(waits), len(stalled_reads(rows)),
                  len(rows)))


def report_chunkserver_race(kind: str, rows: list[dict]) -> None:
    """Whether the chunkserver or mfsmount came back first, against the stalled reads. The
    chunkserver reconnects every MASTER_RECONNECTION_DELAY and gives up a connect after
    1 s (masterconn.c), so a connect into a VIP nobody holds costs it 2 s."""
    both = [r for r in rows if r.get("chunkserver") is not None and r.get("mount") is not None]
    if not both:
        return
    stalled = stalled_reads(rows)
    late = [r for r in both if r["chunkserver"] > r["mount"]]
    # a killed master is recovered in place: the VIP stays, count from the master instead
    behind_vip = [r["chunkserver"] - (r["vip"] if r["vip"] is not None else r["serving"])
                  for r in both]
    print("%-34s chunkserver back after the VIP (kill: the master): median %.2f s, max "
          "%.2f s; after mfsmount in %d of %d, of them stalled %d; stalled with the "
          "chunkserver first: %d" % (
              kind, statistics.median(behind_vip), max(behind_vip), len(late), len(both),
              sum(1 for r in late if r in stalled), sum(1 for r in stalled if r not in late)))


def main() -> int:
    if os.geteuid() != 0:
        print("needs root")
        return 1
    cluster = Cluster(prefix="mfsbench", platform=PLATFORM)
    try:
        client, _ = sc.bring_up(cluster, "crm")
        client.write("bench", 50)
        ours = {kind: run_trials(cluster, client, kind, lambda: sc.settle(cluster), sc.CLONE)
                for kind in KINDS}
        unheld = {}
        if UNHELD:
            cluster.nx(cluster.any_node(), ["crm", "resource", "param", "mfs", "set",
                                            "client_hold", "0"])
            unheld = {kind: run_trials(cluster, client, kind, lambda: sc.settle(cluster),
                                       sc.CLONE) for kind in KINDS}
        lost = client.verify()
        steps = agent_steps(cluster)
        node = cluster.any_node()
        cluster.nx(node, ["crm", "resource", "stop", "mfs-vip"])
        cluster.nx(node, ["crm", "resource", "stop", "mfs-clone"])
        wait_for(lambda: not cluster.masters() and not cluster.vip_holders() and
                 cluster.roles(sc.CLONE) == {}, 120, 0.5, "mfs-clone and mfs-vip to stop")
        cluster.nx(node, ["crm", "configure", "delete", "mfs-vip", "mfs-clone", "mfs"],
                   timeout=120)
        cluster.crm(STATEFUL % cluster.vip)
        floor = {kind: run_trials(cluster, None, kind,
                                  lambda: wait_for(lambda: stateful_healthy(cluster), 120, 0.5,
                                                   "Stateful healthy"), "st-clone")
                 for kind in FLOOR_KINDS}
    finally:
        cluster.down()
    print("platform: %s; trials per figure: %d; seconds from the fault" % (PLATFORM, TRIALS))
    for kind in KINDS:
        report("ocf:mfsha:mfsmaster %s" % kind, ours[kind])
        if kind in unheld:
            report("client_hold=0 %s" % kind, unheld[kind])
        if kind in floor:
            report("ocf:pacemaker:Stateful %s" % kind, floor[kind])
            report_against_floor(kind, ours[kind], floor[kind])
    report_steps(steps)
    for kind in KINDS:
        report_client_wait(kind, ours[kind])
        report_chunkserver_race(kind, ours[kind])
    for kind in unheld:
        report_client_wait("client_hold=0 " + kind, unheld[kind])
        report_chunkserver_race("client_hold=0 " + kind, unheld[kind])
    print("files lost: %d of %d" % (len(lost), len(client.expected)))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
