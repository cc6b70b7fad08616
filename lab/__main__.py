"""Command line for the one-machine cluster: the demo and a few tools to explore it.

  python3 -m lab demo [--platform debian12|debian13]
                             build, configure, crash the master, report (debian13: nodes
                             on Debian 13 with Pacemaker 3.0 and MooseFS 4.57 from Debian)
  python3 -m lab status      crm_mon of the demo cluster
  python3 -m lab shell NODE  a shell inside NODE (node1..3, client)
  python3 -m lab crash NODE  power NODE off (it is fenced)
  python3 -m lab start NODE  power NODE on again
  python3 -m lab down        tear everything down
"""
from __future__ import annotations

import os
import sys
import time

from lab import scenarios as sc
from lab.harness import PLATFORMS, Cluster, PlatformUnavailable

DEMO = Cluster(prefix="mfsdemo")


def say(text: str) -> None:
    print("\n== %s" % text, flush=True)


def demo() -> int:
    say("building a 3-node corosync + Pacemaker cluster in namespaces on this machine "
        "(%s nodes)" % DEMO.platform)
    started = time.monotonic()
    client, configured = sc.bring_up(DEMO, "crm")
    say("cluster formed and configured from crm-examples/mfsmaster.crm in %.1f s "
        "(healthy %.1f s after loading it)" % (time.monotonic() - started, configured))
    print(DEMO.nx(DEMO.any_node(), ["crm_mon", "-1", "-A"]).stdout)
    say("writing 200 files through mfsmount in the client node")
    client.write("demo", 200)
    old = sc.settle(DEMO)
    say("crashing %s, which runs the master (its whole cgroup is killed)" % old)
    timing = sc.timed_failover(DEMO, client, lambda: DEMO.crash(old), old)
    print("new Promoted node:            %s" % timing.new_promoted)
    print("virtual IP up after:          %.1f s" % timing.vip)
    print("mfsmaster accepting after:    %.1f s" % timing.serving)
    print("client's first read after:    %.1f s" % (timing.read or float("nan")))
    print("client's first write after:   %.1f s" % (timing.write or float("nan")))
    bad = client.verify()
    say("data check: %d of %d files intact" % (len(client.expected) - len(bad),
                                               len(client.expected)))
    say("powering %s back on; it rejoins as a metalogger" % old)
    sc.restore_node(DEMO, old)
    sc.settle(DEMO)
    time.sleep(12)  # a monitor round: every node publishes what it holds
    say("mfsha status: every node's version, lag and whether it may be promoted")
    print(DEMO.nx(DEMO.any_node(), ["mfsha", "status"]).stdout)
    print("""The cluster stays up. Explore it:
  python3 -m lab status            crm_mon -A (version, lag, promotable)
  python3 -m lab shell node2       a shell in node2 (crm_mon, crm, pcs, mfscli)
      mfsha status ; mfsha why node3             the election, explained
      mfsha switchover node3                     a planned switchover (constraint removed)
      crm node standby node1 ; crm node online node1
  python3 -m lab shell client      the client: ls /run/mfsmnt
  python3 -m lab crash node1       power a node off (it is fenced)
  python3 -m lab start node1       power it on again
Tear it down:  make demo-down""")
    return 0 if not bad else 1


def main(argv: list[str]) -> int:
    if os.geteuid() != 0:
        print("run as root")
        return 1
    command = argv[1] if len(argv) > 1 else "demo"
    if command == "demo":
        platform = argv[3] if argv[2:3] == ["--platform"] and len(argv) > 3 else "debian12"
        if platform not in PLATFORMS:
            print("unknown platform %r (known: %s)" % (platform, ", ".join(PLATFORMS)))
            return 2
        DEMO.platform = platform
        try:
            return demo()
        except PlatformUnavailable as error:
            print("no %s nodes here: %s" % (platform, error))
            return 1
    if command == "down":
        DEMO.down()
        print("leftovers: %s" % (DEMO.leftovers() or "none"))
        return 0
    if command == "status":
        print(DEMO.nx(DEMO.any_node(), ["crm_mon", "-1", "-A"]).stdout)
        return 0
    if command in ("shell", "crash", "start") and len(argv) > 2:
        node = argv[2]
        if command == "crash":
            DEMO.crash(node)
        elif command == "start":
            DEMO.power_on(node)
        else:
            pid = str(DEMO.pid1(node))
            os.execvp("bash", ["bash", "-c", 'echo $$ > "$0/cgroup.procs" && exec nsenter -t '
                               '"$1" -m -u -i -n -p -r -w -- env -i HOME=/root TERM="$2" '
                               'PATH=/usr/sbin:/usr/bin:/sbin:/bin PS1="[\\h] \\w# " bash -i',
                               os.path.join(DEMO.cgroup, node), pid,
                               os.environ.get("TERM", "xterm")])
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
