"""Helpers for the benchmarks: whole-process timings, medians, reference agents."""
from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DUMMY = "/usr/lib/ocf/resource.d/heartbeat/Dummy"
DUMMYPY = "/usr/lib/ocf/resource.d/heartbeat/dummypy"


def time_process(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall-clock milliseconds of `runs` complete executions (after one warm-up)."""
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    return times


def row(label: str, times: list[float], reference: float | None = None) -> str:
    median = statistics.median(times)
    ratio = " %6.2fx" % (median / reference) if reference else ""
    return "%-44s median %7.1f ms  max %7.1f ms%s" % (label, median, max(times), ratio)


def ocf_env(**extra: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "OCF_ROOT": "/usr/lib/ocf",
           "OCF_RESOURCE_INSTANCE": "bench", "OCF_RESKEY_CRM_meta_timeout": "20000",
           "OCF_RESKEY_CRM_meta_interval": "10000"}
    env.update(extra)
    return env


def moosefs_lines() -> list[tuple[str, str]]:
    """(label, PATH prefix) of each MooseFS line to measure: Debian's, and the MooseFS 4
    that scripts/moosefs4 names (built by `make check`), each measured in the same run."""
    lines = []
    if os.path.exists("/usr/sbin/mfsmaster"):
        lines.append((_version_label("/usr/sbin/mfsmaster"), ""))
    found = subprocess.run([os.path.join(ROOT, "scripts", "moosefs4"), "--check"],
                           capture_output=True, text=True, timeout=60)
    if found.returncode == 0:
        prefix = found.stdout.strip()
        lines.append((_version_label(prefix + "/sbin/mfsmaster"),
                      "%s/sbin:%s/bin:" % (prefix, prefix)))
    else:
        print("MooseFS 4 not measured: " + found.stderr.strip())
    return lines


def _version_label(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10).stdout
    return "MooseFS " + out.split("version:")[-1].split(";")[0].strip().split("-")[0]


def on_each_moosefs_line(measure) -> int:
    """Run `measure(base, lab)` once per MooseFS line (see moosefs_lines), each in a lab
    of its own; the benchmarks' main."""
    for label, path_prefix in moosefs_lines():
        print("== %s" % label)
        with real_lab(path_prefix) as (base, lab):
            measure(base, lab)
    return 0


@contextlib.contextmanager
def real_lab(path_prefix: str = ""):
    """(folder, tests.mfslab.Lab) in a fresh world-readable folder, always torn down;
    `path_prefix` puts another MooseFS first on PATH meanwhile."""
    from tests.mfslab import Lab
    if os.geteuid() != 0 or not shutil.which("mfsmaster"):
        raise SystemExit("needs root and the moosefs-* packages")
    saved_path = os.environ["PATH"]
    os.environ["PATH"] = path_prefix + saved_path
    base = tempfile.mkdtemp(prefix="mfsha-bench-", dir="/tmp")
    os.chmod(base, 0o755)
    lab = Lab(os.path.join(base, "lab"))
    try:
        yield base, lab
    finally:
        lab.teardown()
        shutil.rmtree(base, ignore_errors=True)
        os.environ["PATH"] = saved_path
