#!/usr/bin/python3
"""Whole-process cost of ocf:mfsha:mfsmaster monitor (Promoted and Unpromoted, with
real daemons) and meta-data, next to heartbeat:Dummy and dummypy in the same run.
Targets (issue 5): monitor median at most 20 ms, meta-data at most 60 ms.
No cluster runs here. Two figures per role:
  * "no cluster": the attribute tools fail, so every monitor retries its writes;
  * "steady state": stub tools that succeed (a shell `exit 0`), so, as in a cluster,
    the agent calls them only when a value changes."""
from __future__ import annotations

import os
import statistics
import sys
import time

from common import DUMMY, DUMMYPY, ocf_env, on_each_moosefs_line, row, time_process

from tests.agentlib import AGENT, CLONE_META, call

RUNS = int(os.environ.get("BENCH_RUNS", "40"))


def stub_tools(base: str) -> str:
    folder = os.path.join(base, "stub-bin")
    os.makedirs(folder)
    for tool in ("crm_attribute", "attrd_updater", "crm_node", "crm_master"):
        path = os.path.join(folder, tool)
        with open(path, "w") as stream:
            stream.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o755)
    return folder


def measure(base: str, lab) -> None:
    envs = {}
    for name in ("a", "b"):
        node = lab.node(name)
        envs[name] = ocf_env(OCF_RESOURCE_INSTANCE="p_mfs:0",
                             OCF_RESKEY_master_cfg=node.master_cfg,
                             OCF_RESKEY_metalogger_cfg=node.metalogger_cfg,
                             OCF_RESKEY_allow_new_filesystem="true",
                             HA_RSCTMP=os.path.join(base, "run-" + name), **CLONE_META)
    stubs = stub_tools(base)
    with_stubs = {"PATH": stubs + ":" + envs["a"]["PATH"]}
    for name in ("a", "b"):
        assert call("start", dict(envs[name], **with_stubs)).code == 0
    assert call("promote", dict(envs["a"], **with_stubs)).code == 0
    print("runs per figure: %d" % RUNS)
    # "no cluster": as under ocf-tester, no Pacemaker called the agent, so a failed tool
    # means "no cluster here" (ocf.attributes.cluster_expected)
    alone = {"OCF_RESKEY_crm_feature_set": ""}
    for label, extra in (("no cluster", alone), ("steady state", with_stubs)):
        promoted = time_process([AGENT, "monitor"], dict(envs["a"], **extra), RUNS)
        unpromoted = time_process([AGENT, "monitor"], dict(
            envs["b"], OCF_RESKEY_CRM_meta_interval="11000", **extra), RUNS)
        print(row("mfsmaster monitor, Promoted, %s" % label, promoted))
        print(row("mfsmaster monitor, Unpromoted, %s" % label, unpromoted))
    metadata = time_process([AGENT, "meta-data"], envs["a"], RUNS)
    print(row("mfsmaster meta-data", metadata))
    dummy_env = ocf_env(OCF_RESKEY_state=os.path.join(base, "dummy.state"),
                        HA_RSCTMP=base)
    open(dummy_env["OCF_RESKEY_state"], "w").close()
    for action, ours in (("monitor", promoted), ("meta-data", metadata)):
        for label, agent in (("heartbeat:Dummy", DUMMY), ("heartbeat:dummypy", DUMMYPY)):
            if os.path.exists(agent):
                times = time_process([agent, action], dummy_env, RUNS)
                print(row("%s %s (ratio to ours)" % (label, action), times,
                          statistics.median(ours)))
    print_promote_cycles(envs["a"], with_stubs["PATH"])
    for name in ("a", "b"):
        call("stop", envs[name])


def print_promote_cycles(env: dict[str, str], stubs_path: str, cycles: int = 3) -> None:
    """Demote and promote the master again (tiny metadata): the agent's whole promote,
    as Pacemaker would time it, and the steps it logged."""
    promotes, demotes = [], []
    for _ in range(cycles):
        for action, times in (("demote", demotes), ("promote", promotes)):
            started = time.perf_counter()
            outcome = call(action, dict(env, PCMK_logfacility="none", PATH=stubs_path))
            times.append((time.perf_counter() - started) * 1000)
            assert outcome.code == 0, outcome
            steps = outcome.stderr
    print(row("mfsmaster demote (clean stop of the master)", demotes))
    print(row("mfsmaster promote (tiny metadata)", promotes))
    for line in steps.splitlines():
        if " step " in line:
            print("    last promote: " + line.split(" INFO: ", 1)[-1])


if __name__ == "__main__":
    sys.exit(on_each_moosefs_line(measure))
