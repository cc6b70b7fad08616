#!/usr/bin/python3
"""Whole-process cost of a trivial agent built on ocf/ (examples/ocf-sample), next to
resource-agents' shell Dummy and its Python dummypy, measured in the same run.
Target (issue 3): ocf-sample monitor median at most 15 ms on this machine."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile

from common import DUMMY, DUMMYPY, ROOT, ocf_env, row, time_process

RUNS = int(os.environ.get("BENCH_RUNS", "40"))


def main() -> None:
    folder = tempfile.mkdtemp(prefix="mfsha-bench-")
    sample = os.path.join(ROOT, "examples", "ocf-sample")
    state = os.path.join(folder, "state")
    open(state, "w").close()
    env = ocf_env(OCF_RESKEY_state=state, HA_RSCTMP=folder)
    bare = time_process(["/usr/bin/python3", "-I", "-S", "-c", "pass"], env, RUNS)
    print("runs per figure: %d" % RUNS)
    print(row("python3 -I -S -c pass", bare))
    for action in ("monitor", "meta-data"):
        ours = time_process([sample, action], env, RUNS)
        reference = statistics.median(ours)
        print(row("ocf-sample %s (ocf/)" % action, ours))
        for label, agent in (("heartbeat:Dummy", DUMMY), ("heartbeat:dummypy", DUMMYPY)):
            if os.path.exists(agent):
                times = time_process([agent, action], env, RUNS)
                print(row("%s %s (ratio to ours)" % (label, action), times, reference))
    os.unlink(state)
    os.rmdir(folder)


if __name__ == "__main__":
    sys.exit(main())
