"""The mfsha operator command without a cluster: its errors and the archive commands."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from mfsha import cli
from moosefs.archive import Archiver
from tests.agentlib import ROOT

MFSHA = os.path.join(ROOT, "sbin", "mfsha")


def mfsha(*args: str, user: str | None = None) -> subprocess.CompletedProcess:
    argv = [MFSHA] + list(args)
    if user:
        argv = ["su", user, "-s", "/bin/sh", "-c", " ".join(argv)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def one_line_error(done: subprocess.CompletedProcess, code: int, words: str) -> None:
    assert done.returncode == code and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_help_and_usage_errors():
    assert mfsha("--help").returncode == 0 and "mfsha why NODE" in mfsha("--help").stdout
    assert mfsha().returncode == 2
    one_line_error(mfsha("frobnicate"), 2, "unknown command 'frobnicate'")
    one_line_error(mfsha("why"), 2, "usage: mfsha why NODE")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("su") is None, reason="needs root")
def test_not_root_is_one_line():
    one_line_error(mfsha("status", user="nobody"), 1, "run as root")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("cibadmin") is None,
                    reason="needs root and pacemaker-cli-utils")
def test_no_cluster_running_is_one_line():
    one_line_error(mfsha("status"), 1, "no cluster running here? cibadmin")


def test_inspect_needs_no_cluster(tmp_path):
    done = mfsha("inspect", str(tmp_path))
    assert done.returncode == 1 and "verdict: empty" in done.stdout


def test_archives_extract_into_a_folder_never_into_a_data_directory(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "changelog_ml.0.mfs").write_bytes(b"1: x\n")
    archiver = Archiver(str(tmp_path / "archive"))
    name = os.path.basename(archiver.store(str(data), ["changelog_ml.0.mfs"], "t"))
    with pytest.raises(cli.UsageError, match="is a MooseFS data directory"):
        cli.extract(archiver, name, str(data), str(data))
    other = tmp_path / "busy"
    other.mkdir()
    (other / ".mfsmetalogger.lock").write_text("")
    with pytest.raises(cli.UsageError, match="is a MooseFS data directory"):
        cli.extract(archiver, name, str(other), str(data))
    with pytest.raises(cli.UsageError, match="no archive nope"):
        cli.extract(archiver, "nope", str(tmp_path / "out"), str(data))
    assert "1 files" in cli.extract(archiver, name, str(tmp_path / "out"), str(data))
    assert (tmp_path / "out" / "changelog_ml.0.mfs").read_bytes() == b"1: x\n"
