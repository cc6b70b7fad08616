#!/usr/bin/python3
"""Inspection and restore time of the moosefs package against raw `mfsmaster -a`, on
the same crashed-master directory holding tens of thousands of files' metadata.
Set BENCH_FILES to change the size (default 30000 files)."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

from common import ROOT, on_each_moosefs_line

sys.path.insert(0, ROOT)

from moosefs import config, inspect  # noqa: E402
from moosefs.archive import Archiver  # noqa: E402
from moosefs.restore import restore  # noqa: E402
from procrun import Deadline  # noqa: E402
from tests.mfslab import Lab, wait_until  # noqa: E402

FILES = int(os.environ.get("BENCH_FILES", "30000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def build(lab: Lab) -> str:
    node = lab.node("src")
    open(os.path.join(node.data, "metadata.mfs"), "wb").write(b"MFSM NEW")
    shutil.chown(os.path.join(node.data, "metadata.mfs"), "mfs", "mfs")
    subprocess.run(["mfsmaster", "-c", node.master_cfg, "start"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lab.mount()
    started = time.monotonic()
    for folder in range(FILES // 1000 + 1):
        path = os.path.join(lab.mountpoint, "d%03d" % folder)
        os.mkdir(path)
        for index in range(min(1000, FILES - folder * 1000)):
            os.close(os.open(os.path.join(path, "f%04d" % index), os.O_CREAT | os.O_WRONLY))
    print("built %d files in %.1f s" % (FILES, time.monotonic() - started))
    os.kill(node.master_pid(), 9)
    wait_until(lambda: not node.master_pid(), 20, what="master to die")
    return node.data


def timed(function, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def fresh_copy(lab: Lab, source: str, name: str):
    node = lab.node(name)
    shutil.rmtree(node.data)
    shutil.copytree(source, node.data)
    os.unlink(os.path.join(node.data, ".mfsmaster.lock"))
    for path in [node.data] + [os.path.join(node.data, n) for n in os.listdir(node.data)]:
        shutil.chown(path, "mfs", "mfs")  # a copy by root is unreadable to mfsmaster
    return node


def measure(base: str, lab: Lab) -> None:
    source = build(lab)
    sizes = sum(os.path.getsize(os.path.join(source, n)) for n in os.listdir(source))
    print("data directory: %.1f MiB, %d runs per figure" % (sizes / 2**20, RUNS))
    fast = timed(lambda: inspect.inspect(source), RUNS)
    thorough = timed(lambda: inspect.inspect(source, thorough=True), RUNS)
    ours, raw = [], []
    for run in range(RUNS):
        node = fresh_copy(lab, source, "ours")
        cfg = config.master(node.master_cfg)
        started = time.perf_counter()
        result = restore(cfg, Deadline(300), Archiver(os.path.join(base, "archive")))
        ours.append(time.perf_counter() - started)
        node = fresh_copy(lab, source, "raw")
        started = time.perf_counter()
        subprocess.run(["mfsmaster", "-a", "-c", node.master_cfg, "restore"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        raw.append(time.perf_counter() - started)
    print("restored version: %d" % result.version)
    median = statistics.median
    print("inspect, fast (heads and tails)   median %8.1f ms" % (median(fast) * 1000))
    print("inspect, thorough (every line)    median %8.1f ms" % (median(thorough) * 1000))
    print("restore, this package (total)     median %8.1f ms" % (median(ours) * 1000))
    print("restore, raw mfsmaster -a restore median %8.1f ms" % (median(raw) * 1000))
    print("ratio ours/raw: %.2f" % (median(ours) / median(raw)))


if __name__ == "__main__":
    sys.exit(on_each_moosefs_line(measure))
