"""The Debian package: `make deb` builds it (lintian without errors), it installs on
this machine, the agent and the `mfsha` command work from it, and removing and purging
it leaves nothing of it behind."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.agentlib import ROOT

PACKAGE = "resource-agents-mfsha"
AGENT = "/usr/lib/ocf/resource.d/mfsha/mfsmaster"


def run(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def package_state() -> str:
    done = run(["dpkg-query", "-W", "-f=${Status}", PACKAGE])
    return done.stdout if done.returncode == 0 else "not known"


@pytest.fixture(scope="module")
def deb() -> str:
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    if "installed" in package_state() and "not-installed" not in package_state():
        pytest.skip("%s is installed on this machine; the test would replace it" % PACKAGE)
    if os.path.exists(AGENT):
        pytest.skip("%s exists (make install?); run make uninstall first" % AGENT)
    # Not inside `make check`'s make: a nested make prints "Leaving directory" lines.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    built = subprocess.run(["make", "-s", "-C", ROOT, "deb"], capture_output=True, text=True,
                           timeout=600, env=environ)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "E: " not in built.stdout, built.stdout
    return os.path.join(ROOT, [line for line in built.stdout.splitlines()
                               if line.endswith(".deb")][-1])


@pytest.fixture
def installed(deb):
    done = run(["dpkg", "-i", deb])
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        yield run(["dpkg", "-L", PACKAGE]).stdout.split()
    finally:
        run(["dpkg", "--purge", PACKAGE])


def test_package_metadata(deb):
    fields = run(["dpkg-deb", "-f", deb, "Package", "Depends", "Recommends"]).stdout
    assert "Package: %s" % PACKAGE in fields
    assert "python3 (>= 3.9)" in fields and "python3-lxml" in fields
    assert "moosefs-master" in fields and "moosefs-metalogger" in fields
    contents = run(["dpkg-deb", "-c", deb]).stdout
    for path in ("./usr/lib/ocf/resource.d/mfsha/mfsmaster", "./usr/sbin/mfsha",
                 "./usr/share/man/man7/ocf_mfsha_mfsmaster.7.gz",
                 "./usr/share/man/man8/mfsha.8.gz", "./usr/lib/ocf/lib/mfsha/mfsha/agent.py"):
        assert path in contents
    assert "__pycache__" not in contents  # byte code is made at install, removed at removal
    scripts = run(["dpkg-deb", "-I", deb]).stdout
    assert "/etc/mfs" not in scripts and "DATA_PATH" not in scripts


def test_install_use_remove_purge(installed):
    files = [path for path in installed if not os.path.isdir(path)]
    assert AGENT in files and "/usr/sbin/mfsha" in files
    info = run(["crm", "ra", "info", "ocf:mfsha:mfsmaster"])
    assert info.returncode == 0, info.stderr
    assert "master_cfg" in info.stdout and "fast_stop" in info.stdout
    helped = run(["mfsha", "--help"])
    assert helped.returncode == 0 and "status" in helped.stdout
    meta = run([AGENT, "meta-data"])
    assert meta.returncode == 0 and "<resource-agent" in meta.stdout
    assert os.path.isdir("/usr/lib/ocf/lib/mfsha/mfsha/__pycache__")  # compiled at install

    removed = run(["dpkg", "-r", PACKAGE])
    assert removed.returncode == 0, removed.stderr
    assert [path for path in files if os.path.lexists(path)] == []
    for folder in ("/usr/lib/ocf/lib/mfsha", "/usr/lib/ocf/resource.d/mfsha"):
        assert not os.path.exists(folder), os.listdir(folder)
    purged = run(["dpkg", "--purge", PACKAGE])
    assert purged.returncode == 0, purged.stderr
    assert "installed" not in package_state().replace("not-installed", "")
