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
from tests.packaging.tools import promtool, promtool_says

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


def test_help_version_and_usage_errors():
    helped = mfsha("--help")
    assert helped.returncode == 0
    for command in ("status", "why", "switchover", "inspect", "archives", "metrics"):
        assert command in helped.stdout
    assert mfsha("--version").stdout.startswith("mfsha 0.1.0 (ocf:mfsha:mfsmaster)")
    one_line_error(mfsha(), 2, "the following arguments are required: COMMAND")
    one_line_error(mfsha("frobnicate"), 2, "invalid choice: 'frobnicate'")
    one_line_error(mfsha("why"), 2, "mfsha why: the following arguments are required: NODE")
    # Unknown options are errors, never ignored; no abbreviations either.
    one_line_error(mfsha("status", "--jsn"), 2, "unrecognized arguments: --jsn")
    one_line_error(mfsha("status", "--jso"), 2, "unrecognized arguments: --jso")
    one_line_error(mfsha("switchover", "--timeout", "soon"), 2, "'soon' is not a number")
    one_line_error(mfsha("inspect", "/tmp", "--known", "x"), 2, "VERSION must be a number")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("su") is None, reason="needs root")
def test_read_only_commands_need_haclient_and_changes_need_root():
    one_line_error(mfsha("status", user="nobody"), 1,
                   "run as root or as a member of the haclient group")
    one_line_error(mfsha("switchover", user="nobody"), 1, "run as root (it changes")
    one_line_error(mfsha("archives", "extract", "a", "/tmp/x", user="hacluster"), 1,
                   "run as root (it changes")
    # hacluster is in haclient: the read-only command goes on to ask the cluster.
    if shutil.which("cibadmin"):
        one_line_error(mfsha("status", user="hacluster"), 1, "no cluster running here?")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("cibadmin") is None,
                    reason="needs root and pacemaker-cli-utils")
def test_no_cluster_running_is_one_line():
    one_line_error(mfsha("status"), 1, "no cluster running here? cibadmin")


def test_inspect_needs_no_cluster(tmp_path):
    done = mfsha("inspect", str(tmp_path))
    assert done.returncode == 1 and "verdict: empty" in done.stdout
    import json
    for argv in (["--json", "inspect", str(tmp_path)], ["inspect", str(tmp_path), "--json"]):
        assert json.loads(mfsha(*argv).stdout)["verdict"] == "empty", argv


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
    assert cli.extract(archiver, name, str(tmp_path / "out"), str(data))["files"] == 1
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


def fake_cluster(monkeypatch, cib_text: str = CIB) -> None:
    """cibadmin, crm_mon and crm_attribute as a 3-node cluster with the mark at 1200."""
    outputs = {"cibadmin": cib_text, "crm_mon": CRM_MON}
    monkeypatch.setattr(cib, "tool", lambda argv: outputs[argv[0]])
    monkeypatch.setattr(cli, "cluster_option", lambda name: {
        "mfsha-mfs-hwm": "1200:6B06C1F8DBC0458C:n1:ab"}.get(name))


@pytest.fixture
def view(monkeypatch):
    fake_cluster(monkeypatch)
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
    fake_cluster(monkeypatch)
    with pytest.raises(cib.CibError, match="no resource nope in the CIB"):
        cli.ClusterView("nope")
    with pytest.raises(cib.CibError, match="resource vip is not ocf:mfsha:mfsmaster"):
        cli.ClusterView("vip")


def test_status_table_for_a_cluster_whose_nodes_published_nothing(monkeypatch, tmp_path):
    cfg = tmp_path / "mfsmaster.cfg"
    cfg.write_text("DATA_PATH = %s\n" % tmp_path)
    (tmp_path / "mfsmetalogger.cfg").write_text("DATA_PATH = %s\n" % tmp_path)
    both = '%s"/><nvpair id="m" name="metalogger_cfg" value="%s' % (cfg, tmp_path / "mfsmetalogger.cfg")
    fake_cluster(monkeypatch, CIB.replace("/nonexistent.cfg", both))
    monkeypatch.setattr(cli.ClusterView, "_private", lambda self, name: {})
    out = cli.command_status(cli.ClusterView(None), as_json=False)
    assert "n1           Promoted" in out and "promoted (runs the master)" in out
    assert out.count("the node publishes no freshness") == 2
    assert "high-water mark: 1200; last master: n1" in out
    assert '"last_master": "n1"' in cli.command_status(cli.ClusterView(None), as_json=True)


# --- mfsha metrics --------------------------------------------------------------------------
def promtool_or_skip() -> str:
    checker = promtool()
    if checker is None:
        pytest.skip("no promtool (scripts/promtool could not fetch one); the grammar is "
                    "checked by test_metrics_are_the_status_view_and_this_nodes_records")
    return checker


def samples(text: str) -> dict[str, float]:
    """{'name{labels}': value} of an exposition, checking its grammar on the way: every
    sample's family has HELP and TYPE before it, and no series appears twice."""
    import re
    declared, found = set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            declared.add((line.split()[2], line.split()[1]))
            continue
        match = re.fullmatch(r'([a-z_]+)(\{[a-z_]+="[^"\\]*"(?:,[a-z_]+="[^"\\]*")*\})? '
                             r'(-?[0-9]+(?:\.[0-9]+)?)', line)
        assert match, line
        assert {(match.group(1), "HELP"), (match.group(1), "TYPE")} <= declared, line
        series = match.group(1) + (match.group(2) or "")
        assert series not in found, series
        found[series] = float(match.group(3))
    return found


RECORDS = {"promotes": "3", "refusals_fresher_peer": "2", "last_promote_outcome": "promoted",
           "last_promote_at": "1796000000", "last_promote_seconds": "0.512",
           "last_promote_steps": "metalogger_stop=0.101,inspection=0.020,election=0.003,"
                                 "restore=0.300,inspection=0.010",
           "last_hold_outcome": "chunkservers_missing"}


def test_metrics_are_the_status_view_and_this_nodes_records(view):
    from mfsha.metrics import render
    text = render("mfs", "n2", view, RECORDS)
    found = samples(text)
    node = 'resource="mfs",node="%s"'
    assert found['mfsha_up{resource="mfs"}'] == 1
    assert found["mfsha_node_version{%s}" % (node % "n2")] == 1250
    assert found["mfsha_node_lag_changes{%s}" % (node % "n3")] == 550
    assert found["mfsha_node_lag_seconds{%s}" % (node % "n3")] == 120
    assert found["mfsha_node_promotable{%s}" % (node % "n3")] == 0
    assert found['mfsha_node_role{%s,role="Promoted"}' % (node % "n1")] == 1
    assert found['mfsha_node_role{%s,role="Unpromoted"}' % (node % "n1")] == 0
    assert found['mfsha_promotable_standbys{resource="mfs"}'] == 1
    assert found['mfsha_promoted_nodes{resource="mfs"}'] == 1
    assert found['mfsha_high_water_mark_version{resource="mfs"}'] == 1200
    assert found["mfsha_promotes_total{%s}" % (node % "n2")] == 3
    assert found['mfsha_promote_refusals_total{%s,reason="fresher_peer"}' % (node % "n2")] == 2
    assert found['mfsha_promote_refusals_total{%s,reason="below_mark"}' % (node % "n2")] == 0
    assert found["mfsha_last_promote_duration_seconds{%s}" % (node % "n2")] == 0.512
    assert found['mfsha_last_promote_step_seconds{%s,step="inspection"}' % (node % "n2")] == 0.03
    assert found['mfsha_last_client_hold_outcome{%s,outcome="chunkservers_missing"}'
                 % (node % "n2")] == 1
    assert found['mfsha_last_client_hold_outcome{%s,outcome="let_in"}' % (node % "n2")] == 0
    down = samples(render("mfs", "n2", None, {}))
    assert down['mfsha_up{resource="mfs"}'] == 0 and "mfsha_node_version" not in str(down)
    assert samples(render("", "n2", None, {})) == {'mfsha_up{resource=""}': 0}
    from mfsha.metrics import role_of
    assert [role_of(r) for r in ("Master", "Slave", "Promoted", "Unpromoted", "Starting",
                                 "Stopped")] == ["Promoted", "Unpromoted", "Promoted",
                                                 "Unpromoted", "Stopped", "Stopped"]


def test_metrics_pass_promtool(view, tmp_path):
    from mfsha.metrics import render
    checker = promtool_or_skip()
    for text in (render("mfs", "n2", view, RECORDS), render("mfs", "n2", None, {}),
                 render("mfs", "n2", view, {})):
        assert promtool_says(checker, ["check", "metrics"], text) == "", text


def test_the_alert_rules_pass_promtool():
    rules = os.path.join(ROOT, "examples", "prometheus", "mfsha-alerts.yml")
    assert promtool_says(promtool_or_skip(), ["check", "rules", rules]) == ""


def test_metrics_without_a_cluster_still_write_mfsha_up_0_and_exit_1(monkeypatch, tmp_path,
                                                                      capsys):
    def no_cluster(argv):
        raise cib.CibError("no cluster running here? cibadmin --query: exit 102")
    monkeypatch.setattr(cib, "tool", no_cluster)
    monkeypatch.setenv("HA_RSCTMP", str(tmp_path))
    from mfsha.records import record_promote, records
    record_promote(records("mfs"), "fresher_peer", 0.1, [])
    target = tmp_path / "mfsha.prom"
    assert cli.main(["mfsha", "metrics", "--resource", "mfs", "--output", str(target)]) == 1
    assert "mfsha: no cluster running here?" in capsys.readouterr().err
    found = samples(target.read_text())
    assert found['mfsha_up{resource="mfs"}'] == 0
    assert found['mfsha_promote_refusals_total{resource="mfs",node="%s",reason="fresher_peer"}'
                 % os.uname().nodename] == 1
    assert "mfsha_node_version" not in target.read_text()


def test_metrics_output_is_written_whole_and_readable(monkeypatch, tmp_path):
    fake_cluster(monkeypatch)
    monkeypatch.setattr(cli.ClusterView, "_private", lambda self, name: {})
    monkeypatch.setenv("HA_RSCTMP", str(tmp_path))
    from mfsha.records import PROMOTED, record_promote, records
    record_promote(records("mfs"), PROMOTED, 0.25, [("restore", 0.2)])
    target = tmp_path / "mfsha.prom"
    assert cli.main(["mfsha", "metrics", "--output", str(target)]) == 0
    text = target.read_text()
    assert 'mfsha_promotes_total{resource="mfs",node="%s"} 1' % os.uname().nodename in text
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert cli.main(["mfsha", "metrics", "--json", "--output", str(target)]) == 0
    import json
    found = {(s["name"], s["labels"].get("node")): s["value"]
             for s in json.loads(target.read_text())}
    assert found[("mfsha_promotes_total", os.uname().nodename)] == 1
    assert found[("mfsha_up", None)] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
