#!/usr/bin/python3
"""Failover times of a real 3-node cluster (namespaces on this machine), for a crash of
the Promoted node and a planned switchover: fault -> virtual IP up elsewhere ->
mfsmaster accepting connections -> the client's first read and write. Next to it,
the same cluster with ocf:pacemaker:Stateful in place of our agent: the floor that
Pacemaker itself sets. Set BENCH_TRIALS (default 5)."""
from __future__ import annotations

import os
import statistics
import sys
import time

from common import ROOT

sys.path.insert(0, ROOT)

from lab import scenarios as sc  # noqa: E402
from lab.harness import Cluster, wait_for  # noqa: E402

TRIALS = int(os.environ.get("BENCH_TRIALS", "5"))
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
    roles = cluster.roles("st-clone")
    if promoted and len(roles) == 3 and cluster.vip_holders() == [promoted]:
        return promoted
    return None


def run_trials(cluster, client, kind: str, settle, clone: str) -> list[dict]:
    rows = []
    for _ in range(TRIALS):
        old = settle()
        if kind == "crash":
            fault = lambda: cluster.crash(old)  # noqa: E731
        else:
            target = [n for n in cluster.nodes if n != old][0]
            fault = lambda: cluster.nx(cluster.any_node(), [  # noqa: E731
                "crm_resource", "--move", "--promoted", "-r", clone, "-N", target, "--force"])
        timing = sc.timed_failover(cluster, client, fault, old)
        rows.append(timing.row())
        if kind == "crash":
            sc.restore_node(cluster, old)
        else:
            settle()
            cluster.nx(cluster.any_node(), ["crm_resource", "--clear", "-r", clone], check=False)
        cluster.nx(cluster.any_node(), ["crm_resource", "--cleanup"], check=False)
        time.sleep(2)
    return rows


def report(label: str, rows: list[dict]) -> None:
    for key in ("vip", "serving", "read", "write"):
        values = [r[key] for r in rows if r[key] is not None]
        if values:
            print("%-34s %-8s median %6.2f s  max %6.2f s  (n=%d)" % (
                label, key, statistics.median(values), max(values), len(values)))


def main() -> int:
    if os.geteuid() != 0:
        print("needs root")
        return 1
    cluster = Cluster(prefix="mfsbench")
    try:
        client, _ = sc.bring_up(cluster, "crm")
        client.write("bench", 50)
        ours = {kind: run_trials(cluster, client, kind, lambda: sc.settle(cluster), sc.CLONE)
                for kind in ("crash", "switchover")}
        assert client.verify() == [], "files lost during the benchmark"
        node = cluster.any_node()
        cluster.nx(node, ["crm", "resource", "stop", "mfs-vip"])
        cluster.nx(node, ["crm", "resource", "stop", "mfs-clone"])
        wait_for(lambda: not cluster.masters() and not cluster.vip_holders() and
                 not cluster.roles(sc.CLONE), 120, 0.5, "mfs-clone and mfs-vip to stop")
        cluster.nx(node, ["crm", "configure", "delete", "mfs-vip", "mfs-clone", "mfs"],
                   timeout=120)
        cluster.crm(STATEFUL % cluster.vip)
        floor = {kind: run_trials(cluster, None, kind,
                                  lambda: wait_for(lambda: stateful_healthy(cluster), 120, 0.5,
                                                   "Stateful healthy"), "st-clone")
                 for kind in ("crash", "switchover")}
    finally:
        cluster.down()
    print("trials per figure: %d; seconds from the fault" % TRIALS)
    for kind in ("crash", "switchover"):
        report("ocf:mfsha:mfsmaster %s" % kind, ours[kind])
        report("ocf:pacemaker:Stateful %s" % kind, floor[kind])
        added = statistics.median(r["vip"] for r in ours[kind]) - \
            statistics.median(r["vip"] for r in floor[kind])
        print("%-34s agent adds %.2f s to the VIP median (target: at most 1 s)" % (kind, added))
    return 0


if __name__ == "__main__":
    sys.exit(main())
