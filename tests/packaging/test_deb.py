"""The Debian package: `make deb` builds it (lintian without errors), two builds are
byte-identical, it carries the guide, the examples, the systemd units (disabled) and a
logrotate rule, it installs on this machine, the agent and the `mfsha` command work from
it, and removing and purging it leaves nothing of it behind. (The guide's first start
from the installed package alone, on a fresh node: tests/cluster/test_deb_node.py.)"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.packaging.tools import build_deb

PACKAGE = "resource-agents-mfsha"
AGENT = "/usr/lib/ocf/resource.d/mfsha/mfsmaster"


DOC = "./usr/share/doc/%s/" % PACKAGE
UNITS = ("mfsha-ucarp-freshness.service", "ucarp-mfsmaster.service", "mfsha-metrics.service",
         "mfsha-metrics.timer")


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
    return build_deb()


@pytest.fixture
def installed(deb):
    done = run(["dpkg", "-i", deb])
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        yield run(["dpkg", "-L", PACKAGE]).stdout.split()
    finally:
        run(["dpkg", "--purge", PACKAGE])


def test_package_metadata(deb):
    fields = run(["dpkg-deb", "-f", deb, "Package", "Depends", "Recommends", "Suggests"]).stdout
    assert "Package: %s" % PACKAGE in fields
    depends = fields.split("Depends: ")[1].splitlines()[0]
    for needed in ("pacemaker-cli-utils", "python3 (>= 3.9)", "python3-lxml"):
        assert needed in depends  # what the agent cannot run without
    recommends = fields.split("Recommends: ")[1].splitlines()[0]
    for wanted in ("moosefs-master", "moosefs-metalogger", "resource-agents", "pacemaker"):
        assert wanted in recommends and wanted not in depends.replace("pacemaker-cli", "")
    assert "ucarp" in fields.split("Suggests: ")[1]
    contents = run(["dpkg-deb", "-c", deb]).stdout
    for path in ["./usr/lib/ocf/resource.d/mfsha/mfsmaster", "./usr/sbin/mfsha",
                 "./usr/share/man/man7/ocf_mfsha_mfsmaster.7.gz",
                 "./usr/share/man/man8/mfsha.8.gz", "./usr/share/man/man8/mfsha-ucarp.8.gz",
                 "./usr/lib/ocf/lib/mfsha/mfsha/agent.py", "./etc/logrotate.d/mfsha-ucarp",
                 DOC + "guide.md.gz", DOC + "README.md.gz", DOC + "examples/crm/mfsmaster.crm",
                 DOC + "examples/crm/mfsmaster.pcs", DOC + "examples/ucarp/mfsha-ucarp.cfg",
                 DOC + "examples/prometheus/mfsha-alerts.yml",
                 DOC + "examples/systemd/mfsha-metrics.timer"] + \
            ["./lib/systemd/system/" + unit for unit in UNITS]:
        assert path + "\n" in contents, path
    assert "__pycache__" not in contents  # byte code is made at install, removed at removal
    scripts = run(["dpkg-deb", "-I", deb]).stdout
    assert "/etc/mfs" not in scripts and "DATA_PATH" not in scripts


def test_two_builds_are_byte_identical(deb, tmp_path):
    again = build_deb(str(tmp_path / "again"))
    assert open(deb, "rb").read() == open(again, "rb").read(), "%s differs from %s" % (
        again, deb)


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
    assert run(["mfsha", "--version"]).stdout.startswith("mfsha ")
    units = ["/lib/systemd/system/" + unit for unit in UNITS]
    verified = run(["systemd-analyze", "verify", "--man=no"] + units)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    enabled = run(["find", "/etc/systemd/system", "-lname", "*mfsha*", "-o", "-lname",
                   "*ucarp-mfsmaster*"]).stdout.split()
    assert enabled == []  # installed disabled: the site chooses its front-end
    if os.path.exists("/usr/sbin/logrotate"):
        rotated = run(["logrotate", "--debug", "/etc/logrotate.d/mfsha-ucarp"])
        assert rotated.returncode == 0, rotated.stderr

    removed = run(["dpkg", "-r", PACKAGE])
    assert removed.returncode == 0, removed.stderr
    conffiles = ["/etc/logrotate.d/mfsha-ucarp"]
    assert [path for path in files if os.path.lexists(path)] == conffiles
    for folder in ("/usr/lib/ocf/lib/mfsha", "/usr/lib/ocf/resource.d/mfsha"):
        assert not os.path.exists(folder), os.listdir(folder)
    purged = run(["dpkg", "--purge", PACKAGE])
    assert purged.returncode == 0, purged.stderr
    assert not os.path.exists("/etc/logrotate.d/mfsha-ucarp")
    assert "installed" not in package_state().replace("not-installed", "")
