"""The mfsha operator command without a cluster: its errors and the archive commands."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from failover import mark as election
from mfsha import cli
from ocf import cib
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


CIB = """<cib epoch="9" admin_epoch="0"><configuration><crm_config><cluster_property_set
id="o"><nvpair id="h" name="mfsha-mfs-hwm" value="1200:6B06C1F8DBC0458C:n1:ab"/>
</cluster_property_set></crm_config><nodes><node id="1" uname="n1"/><node id="2" uname="n2"/>
<node id="3" uname="n3"/></nodes><resources><clone id="mfs-clone"><primitive id="mfs"
class="ocf" provider="mfsha" type="mfsmaster"><instance_attributes id="i"><nvpair id="c"
name="master_cfg" value="/nonexistent.cfg"/></instance_attributes></primitive></clone>
<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"><instance_attributes
id="v"><nvpair id="a" name="ip" value="10.0.0.9"/></instance_attributes></primitive>
</resources><constraints><rsc_colocation id="x" rsc="vip" with-rsc="mfs-clone"
with-rsc-role="Promoted" score="INFINITY"/></constraints></configuration><status/></cib>"""
CRM_MON = """<pacemaker-result><summary><current_dc present="true" name="n1"
with_quorum="true"/></summary><resources><clone id="mfs-clone"><resource id="mfs"
role="Promoted"><node name="n1"/></resource><resource id="mfs" role="Unpromoted"><node
name="n2"/></resource><resource id="mfs" role="Unpromoted"><node name="n3"/></resource>
</clone></resources></pacemaker-result>"""


@pytest.fixture
def view(monkeypatch):
    outputs = {"cibadmin": CIB, "crm_mon": CRM_MON}
    monkeypatch.setattr(cib, "tool", lambda argv: outputs[argv[0]])
    published = {"mfsha-mfs-freshness": {"n2": "1250:6B06C1F8DBC0458C",
                                         "n3": "700:6B06C1F8DBC0458C"},
                 "mfsha-mfs-stamp": {"n2": "1795605104", "n3": "1795604984"}}
    monkeypatch.setattr(cli.ClusterView, "_private", lambda self, name: published[name])
    return cli.ClusterView(None)


def test_status_and_why_come_from_the_election(view):
    assert (view.resource, view.clone(), view.colocated_address(), view.promoted()) == \
        ("mfs", "mfs-clone", "10.0.0.9", "n1")
    rows = {row["node"]: row for row in view.rows()}
    assert rows["n1"]["promotable"] and rows["n1"]["reason"] == "runs the master"
    assert rows["n2"]["promotable"] and rows["n2"]["lag_changes"] == 0
    assert not rows["n3"]["promotable"] and rows["n3"]["lag_changes"] == 550
    assert (rows["n2"]["lag_seconds"], rows["n3"]["lag_seconds"]) == (0, 120)
    assert "node n2 holds fresher metadata" in rows["n3"]["reason"]
    text = cli.command_why(view, "n3", as_json=False)
    assert text.splitlines()[0] == "n3 would not be promoted:"
    assert "  1. metadata here: restores to version 700" in text
    with pytest.raises(cli.UsageError, match="no node n9 in the cluster"):
        view.why("n9")
    with pytest.raises(cli.UsageError, match="n1 is already the Promoted node"):
        cli.command_switchover(view, "n1")
    with pytest.raises(cli.UsageError, match="n3 may not be promoted: node n2 holds"):
        cli.command_switchover(view, "n3")


def test_why_takes_published_versions_as_coarse(view):
    """Seen in the rolling-upgrade test: a metalogger that published 273 while another
    published 322 (each republishes after CHANGE_TOLERANCE changes) was refused a
    switchover as less fresh. Within the tolerance it is not; beyond it, it is."""
    view.published = {"n2": election.Freshness(1250, 0x6B06C1F8DBC0458C),
                      "n3": election.Freshness(1250 - election.CHANGE_TOLERANCE,
                                               0x6B06C1F8DBC0458C)}
    assert view.why("n3").promotable  # also within the tolerance of the mark (1200)
    view.published["n3"].version -= 1
    assert "node n2 holds fresher metadata" in view.why("n3").refusal


def test_an_unknown_resource_is_one_line(monkeypatch):
    outputs = {"cibadmin": CIB, "crm_mon": CRM_MON}
    monkeypatch.setattr(cib, "tool", lambda argv: outputs[argv[0]])
    with pytest.raises(cib.CibError, match="no resource nope in the CIB"):
        cli.ClusterView("nope")
    with pytest.raises(cib.CibError, match="resource vip is not ocf:mfsha:mfsmaster"):
        cli.ClusterView("vip")


def test_status_table_for_a_cluster_whose_nodes_published_nothing(monkeypatch, tmp_path):
    cfg = tmp_path / "mfsmaster.cfg"
    cfg.write_text("DATA_PATH = %s\n" % tmp_path)
    (tmp_path / "mfsmetalogger.cfg").write_text("DATA_PATH = %s\n" % tmp_path)
    both = '%s"/><nvpair id="m" name="metalogger_cfg" value="%s' % (cfg, tmp_path / "mfsmetalogger.cfg")
    outputs = {"cibadmin": CIB.replace("/nonexistent.cfg", both), "crm_mon": CRM_MON}
    monkeypatch.setattr(cib, "tool", lambda argv: outputs[argv[0]])
    monkeypatch.setattr(cli.ClusterView, "_private", lambda self, name: {})
    out = cli.command_status(cli.ClusterView(None), as_json=False)
    assert "n1           Promoted" in out and "promoted (runs the master)" in out
    assert out.count("the node publishes no freshness") == 2
    assert "high-water mark: 1200; last master: n1" in out
    assert '"last_master": "n1"' in cli.command_status(cli.ClusterView(None), as_json=True)
