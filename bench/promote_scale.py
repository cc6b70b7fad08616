#!/usr/bin/python3
"""Promote time as the metadata grows: the agent's whole promote against the raw MooseFS
commands on the same metalogger files, for each MooseFS line.

The metadata is generated, not written through a mount (far too slow): an empty file
system's image, then a changelog of CREATE entries (1000 files per directory) that
`mfsmaster -a` replays into an image of N files. The node then holds what a metalogger
holds after a crash: that image as metadata_ml.mfs.back and the last 1000 changes as
changelog_ml.0.mfs. Files are empty (no chunks): the figures are for the namespace.

Measured per size, on a fresh copy each run:
  * ours: `mfsmaster promote` (start, then promote, no cluster), and its logged steps;
  * raw, two passes: `mfsmaster -a restore`, then `mfsmaster start` (what promote does);
  * raw, one pass: `mfsmaster -a start`.
Each ends when the master accepts a connection on its client port.
Set BENCH_SIZES (default "100000 1000000"; 10000000 needs about 4 GiB of memory)
and BENCH_RUNS (default 3)."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

from common import ROOT, ocf_env, on_each_moosefs_line

sys.path.insert(0, ROOT)

from moosefs.daemons import serving  # noqa: E402
from moosefs.files import read_image  # noqa: E402
from tests.agentlib import CLONE_META, call  # noqa: E402
from tests.mfslab import CL_PORT, Lab, Node, wait_until  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "100000 1000000").split()]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
TAIL = 1000  # changes left in the metalogger's changelog, replayed at each promote
PER_DIR = 1000
TIMEOUT = 1800.0


def empty_image(lab: Lab, node: Node) -> int:
    """A clean stop of a master on a new file system: metadata.mfs; its version."""
    path = os.path.join(node.data, "metadata.mfs")
    with open(path, "wb") as stream:
        stream.write(b"MFSM NEW")
    shutil.chown(path, "mfs", "mfs")
    mfsmaster(node, "start")
    mfsmaster(node, "stop")
    return read_image(path).version


def mfsmaster(node: Node, *words: str) -> None:
    subprocess.run(["mfsmaster", "-c", node.master_cfg] + list(words), check=True,
                   timeout=TIMEOUT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def create_lines(first_version: int, files: int):
    """CREATE changes for `files` empty files in directories of PER_DIR, inodes from 2."""
    stamp = int(time.time())
    version, inode = first_version, 2
    for start in range(0, files, PER_DIR):
        folder = inode
        yield "%d: %d|CREATE(1,d%07d,2,493,18,0,0,0):%d\n" % (version, stamp, start, folder)
        version, inode = version + 1, inode + 1
        for index in range(min(PER_DIR, files - start)):
            yield "%d: %d|CREATE(%d,f%04d,1,420,18,0,0,0):%d\n" % (
                version, stamp, folder, index, inode)
            version, inode = version + 1, inode + 1


def write_lines(path: str, lines) -> None:
    with open(path, "w") as stream:
        stream.writelines(lines)
    shutil.chown(path, "mfs", "mfs")


def generate(lab: Lab, files: int) -> Node:
    """A node whose data directory holds metalogger files of `files` files."""
    node = lab.node("gen%d" % files)
    version = empty_image(lab, node)
    lines = list(create_lines(version, files))
    head, tail = lines[:-TAIL], lines[-TAIL:]
    write_lines(os.path.join(node.data, "changelog.0.mfs"), head)
    started = time.monotonic()
    mfsmaster(node, "-a", "restore")
    print("generated %d files (%d changes) in %.1f s" % (
        files, len(lines), time.monotonic() - started))
    for name in os.listdir(node.data):
        if name.startswith("changelog") or name.endswith(".lock"):
            os.unlink(os.path.join(node.data, name))  # the benchmark's own scratch files
    os.rename(os.path.join(node.data, "metadata.mfs"),
              os.path.join(node.data, "metadata_ml.mfs.back"))
    write_lines(os.path.join(node.data, "changelog_ml.0.mfs"), tail)
    return node


def fresh_copy(lab: Lab, source: Node, name: str) -> Node:
    node = lab.node(name)
    shutil.rmtree(node.data)
    shutil.copytree(source.data, node.data)
    for path in [node.data] + [os.path.join(node.data, n) for n in os.listdir(node.data)]:
        shutil.chown(path, "mfs", "mfs")
    return node


def until_serving(started: float) -> float:
    wait_until(lambda: serving("127.0.0.1", CL_PORT, 0.2), TIMEOUT, 0.02,
               what="mfsmaster to accept connections")
    return time.perf_counter() - started


def stop_master(node: Node) -> None:
    """Kill the master this benchmark started (its PID from the lock): the copy is
    scratch, and a clean stop of a large image only costs time."""
    pid = node.master_pid()
    if pid:
        os.kill(pid, 9)
        wait_until(lambda: not node.master_pid(), 60, what="the master to die")


def agent_promote(lab: Lab, source: Node, base: str) -> tuple[float, list[str]]:
    node = fresh_copy(lab, source, "ours")
    env = ocf_env(OCF_RESOURCE_INSTANCE="p_mfs:0", OCF_RESKEY_master_cfg=node.master_cfg,
                  OCF_RESKEY_metalogger_cfg=node.metalogger_cfg, PCMK_logfacility="none",
                  HA_RSCTMP=os.path.join(base, "run-ours"), **CLONE_META)
    shutil.rmtree(env["HA_RSCTMP"], ignore_errors=True)
    assert call("start", env).code == 0
    started = time.perf_counter()
    outcome = call("promote", env, timeout_ms=int(TIMEOUT * 1000))
    assert outcome.code == 0, outcome
    seconds = until_serving(started)
    steps = [line.split(" INFO: ", 1)[-1] for line in outcome.stderr.splitlines()
             if " step " in line]
    stop_master(node)
    call("stop", env)
    return seconds, steps


def raw_two_passes(lab: Lab, source: Node) -> float:
    node = fresh_copy(lab, source, "raw2")
    started = time.perf_counter()
    mfsmaster(node, "-a", "restore")
    mfsmaster(node, "start")
    seconds = until_serving(started)
    stop_master(node)
    return seconds


def raw_one_pass(lab: Lab, source: Node) -> float:
    node = fresh_copy(lab, source, "raw1")
    started = time.perf_counter()
    mfsmaster(node, "-a", "start")
    seconds = until_serving(started)
    stop_master(node)
    return seconds


def measure(base: str, lab: Lab) -> None:
    print("runs per figure: %d; seconds until the master accepts a client connection" % RUNS)
    print("%10s %12s %14s %14s %10s" % ("files", "image MiB", "agent promote",
                                         "raw 2 passes", "raw 1 pass"))
    for files in SIZES:
        source = generate(lab, files)
        size = os.path.getsize(os.path.join(source.data, "metadata_ml.mfs.back")) / 2 ** 20
        ours, steps, two, one = [], [], [], []
        for _ in range(RUNS):
            seconds, steps = agent_promote(lab, source, base)
            ours.append(seconds)
            two.append(raw_two_passes(lab, source))
            one.append(raw_one_pass(lab, source))
        median = statistics.median
        print("%10d %12.1f %14.2f %14.2f %10.2f" % (files, size, median(ours), median(two),
                                                    median(one)))
        for line in steps:
            print("    last promote: " + line)
        shutil.rmtree(source.data)


if __name__ == "__main__":
    sys.exit(on_each_moosefs_line(measure))
