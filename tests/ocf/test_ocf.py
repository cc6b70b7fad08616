"""Unit tests of the ocf/ helper library."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time

import pytest

from ocf import codes, dispatch, notify
from ocf.attributes import Cluster
from ocf.env import Environment, parse_bool
from ocf.log import Logger
from ocf.metadata import PROFILE_1_1, Action, AgentInfo
from ocf.params import BOOLEAN, INTEGER, SELECT, Parameter, Parameters
from ocf.proc import Deadline, have_binary, run
from tests.agentlib import imported_modules
from tests.fakecluster import FakeCluster

from tests.agentlib import ROOT
SAMPLE = os.path.join(ROOT, "examples", "ocf-sample")
DTD = "/usr/share/resource-agents/ra-api-1.dtd"


# --- codes --------------------------------------------------------------------------------
def test_return_codes_of_ocf_1_1_and_legacy_aliases():
    assert [codes.SUCCESS, codes.ERR_GENERIC, codes.ERR_ARGS, codes.ERR_UNIMPLEMENTED,
            codes.ERR_PERM, codes.ERR_INSTALLED, codes.ERR_CONFIGURED, codes.NOT_RUNNING,
            codes.RUNNING_PROMOTED, codes.FAILED_PROMOTED, codes.DEGRADED,
            codes.DEGRADED_PROMOTED] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191]
    assert codes.RUNNING_MASTER == 8 and codes.FAILED_MASTER == 9
    assert codes.name_of(191) == "OCF_DEGRADED_PROMOTED"


# --- environment ------------------------------------------------------------------------------
def test_action_from_argv_and_ocf_action_variable():
    assert Environment(["agent", "start"], {}).action == "start"
    assert Environment(["agent", "start"], {"__OCF_ACTION": "stop"}).action == "stop"
    assert Environment(["agent"], {}).action == ""


def test_timeouts_in_seconds_and_probe():
    env = Environment(["a", "monitor"], {"OCF_RESKEY_CRM_meta_timeout": "20000",
                                         "OCF_RESKEY_CRM_meta_interval": "0"})
    assert env.timeout == 20.0 and env.interval == 0 and env.is_probe
    recurring = Environment(["a", "monitor"], {"OCF_RESKEY_CRM_meta_interval": "11000"})
    assert recurring.interval == 11.0 and not recurring.is_probe
    assert not Environment(["a", "start"], {}).is_probe


def test_check_level_node_and_clone_meta():
    env = Environment(["a", "monitor"], {
        "OCF_CHECK_LEVEL": "10", "OCF_RESKEY_CRM_meta_on_node": "node2",
        "OCF_RESOURCE_INSTANCE": "p_mfs:1", "OCF_RESKEY_CRM_meta_clone_max": "3",
        "OCF_RESKEY_CRM_meta_master_max": "1", "OCF_RESKEY_CRM_meta_notify": "true",
        "OCF_RESKEY_CRM_meta_clone_node_max": "1", "OCF_RESKEY_crm_feature_set": "3.16.2"})
    assert env.check_level == 10 and env.node_name == "node2"
    assert env.resource_name == "p_mfs" and env.is_clone and env.promotable
    assert env.notify_enabled and env.promoted_max == 1 and env.clone_node_max == 1
    assert env.feature_set == (3, 16, 2)
    assert Environment([], {"OCF_RESKEY_CRM_meta_promoted_max": "2"}).promoted_max == 2
    assert Environment([], {}).node_name == os.uname().nodename


@pytest.mark.parametrize("text,value", [("yes", True), ("TRUE", True), ("1", True), ("on", True),
                                        ("no", False), ("false", False), ("0", False),
                                        ("off", False)])
def test_boolean_spellings(text, value):
    assert parse_bool(text) is value


def test_boolean_garbage_is_rejected():
    with pytest.raises(ValueError):
        parse_bool("maybe")


# --- parameters -----------------------------------------------------------------------------
DECLARED = [Parameter("path", "p", default="/x"), Parameter("count", "c", type=INTEGER, default=3),
            Parameter("flag", "f", type=BOOLEAN, default=False),
            Parameter("mode", "m", type=SELECT, options=("a", "b"), default="a"),
            Parameter("must", "r", required=True)]


def test_typed_parameters_and_declared_defaults():
    params = Parameters(DECLARED, Environment([], {"OCF_RESKEY_count": "7",
                                                   "OCF_RESKEY_flag": "yes"}))
    assert params["path"] == "/x" and params["count"] == 7 and params["flag"] is True
    assert params["mode"] == "a" and params.missing_required() == ["must"]


@pytest.mark.parametrize("name,text", [("count", "seven"), ("flag", "perhaps"), ("mode", "c")])
def test_bad_parameter_value_is_err_configured(name, text):
    params = Parameters(DECLARED, Environment([], {"OCF_RESKEY_" + name: text}))
    with pytest.raises(codes.OCFError) as error:
        params[name]
    assert error.value.code == codes.ERR_CONFIGURED and name in error.value.reason


# --- meta-data ------------------------------------------------------------------------------
TRICKY = AgentInfo("tricky", "1.0", 'short <&> "quoted"', "long with <tags> & 'quotes'",
                   [Parameter("mode", 'm <1> & "2"', type=SELECT, options=("a", "b"),
                              default="a", reloadable=True)],
                   [Action("start", 20), Action("monitor", 20, interval=10, role="Promoted"),
                    Action("monitor", 20, interval=11, role="Unpromoted"),
                    Action("reload-agent", 10), Action("meta-data", 5)])


def _valid_against_dtd(xml: str) -> subprocess.CompletedProcess:
    text = xml.replace('SYSTEM "ra-api-1.dtd"', 'SYSTEM "%s"' % DTD)
    return subprocess.run(["xmllint", "--noout", "--valid", "-"], input=text, text=True,
                          capture_output=True)


@pytest.mark.skipif(not os.path.exists(DTD), reason="resource-agents not installed")
def test_metadata_with_special_characters_is_valid_against_the_dtd():
    xml = TRICKY.to_xml()
    assert xml.startswith('<?xml version="1.0"?>\n<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">')
    done = _valid_against_dtd(xml)
    assert done.returncode == 0, done.stderr
    from lxml import etree
    root = etree.fromstring(xml.split("\n", 1)[1].encode())
    assert root.findtext("shortdesc") == 'short <&> "quoted"'
    assert "reload-agent" not in xml and "reloadable" not in xml and "Allowed values: a, b" in xml


def test_metadata_profile_1_1_keeps_select_and_reloadable():
    xml = AgentInfo(**{k: getattr(TRICKY, k) for k in ("name", "version", "shortdesc", "longdesc",
                                                       "parameters", "actions")},
                    profile=PROFILE_1_1).to_xml()
    assert "<version>1.1</version>" in xml and 'reloadable="1"' in xml
    assert '<option value="b"/>' in xml and 'name="reload-agent"' in xml
    assert "DOCTYPE" not in xml


@pytest.mark.skipif(not os.path.exists(DTD), reason="resource-agents not installed")
def test_sample_agent_metadata_validates():
    done = subprocess.run([sys.executable, SAMPLE, "meta-data"], capture_output=True, text=True)
    assert done.returncode == 0
    assert _valid_against_dtd(done.stdout).returncode == 0


# --- dispatch ---------------------------------------------------------------------------------
def _dispatch(action, handlers, environ=None, params=DECLARED[:1]):
    out, err = io.StringIO(), io.StringIO()
    info = AgentInfo("t", "1", "s", "l", params, [Action(a, 20) for a in handlers])
    code = dispatch.run(info, handlers, ["t", action], environ or {}, out, err)
    return code, out.getvalue(), err.getvalue()


def test_unknown_action_is_unimplemented_with_usage():
    code, _, err = _dispatch("frobnicate", {"start": lambda ctx: 0})
    assert code == codes.ERR_UNIMPLEMENTED
    assert "usage: t {" in err and "ocf-exit-reason:action 'frobnicate' is not implemented" in err


def test_exception_becomes_err_generic_with_reason_and_no_traceback_on_stdout():
    def broken(ctx):
        raise KeyError("boom")
    code, out, err = _dispatch("start", {"start": broken})
    assert code == codes.ERR_GENERIC and out == ""
    assert "ocf-exit-reason:internal error in t start: KeyError" in err
    assert "Traceback" not in err  # logged, not dumped


def test_ocf_error_sets_code_and_exit_reason_with_custom_prefix():
    def refuse(ctx):
        raise codes.OCFError(codes.ERR_CONFIGURED, "fix\nthe file")
    code, _, err = _dispatch("start", {"start": refuse}, {"OCF_EXIT_REASON_PREFIX": "WHY:"})
    assert code == codes.ERR_CONFIGURED and err == "WHY:fix the file\n"


def test_required_parameter_fatal_for_start_but_not_for_stop_or_probe():
    required = [Parameter("must", "r", required=True)]
    handlers = {"start": lambda ctx: 0, "stop": lambda ctx: 0, "monitor": lambda ctx: 7}
    assert _dispatch("start", handlers, params=required)[0] == codes.ERR_CONFIGURED
    assert _dispatch("stop", handlers, params=required)[0] == codes.SUCCESS
    assert _dispatch("monitor", handlers, params=required)[0] == codes.NOT_RUNNING
    recurring = {"OCF_RESKEY_CRM_meta_interval": "10000"}
    assert _dispatch("monitor", handlers, recurring, params=required)[0] == codes.ERR_CONFIGURED


def test_none_result_is_success():
    assert _dispatch("start", {"start": lambda ctx: None})[0] == codes.SUCCESS


def test_sample_agent_lifecycle_in_a_real_process(tmp_path):
    env = dict(os.environ, OCF_RESKEY_state=str(tmp_path / "s"))
    call = lambda a: subprocess.run([SAMPLE, a], env=env, capture_output=True).returncode  # noqa
    assert [call("monitor"), call("start"), call("monitor"), call("stop"), call("stop"),
            call("monitor")] == [7, 0, 0, 0, 0, 7]


def test_monitor_dispatch_does_not_import_heavy_modules(tmp_path):
    env = {"OCF_RESKEY_state": str(tmp_path / "s"), "PATH": "/usr/bin:/bin"}
    monitor = imported_modules([SAMPLE, "monitor"], env)
    assert "ocf" in monitor
    assert not monitor & {"lxml", "subprocess", "logging", "typing", "re", "enum", "signal"}
    assert "lxml" in imported_modules([SAMPLE, "meta-data"], env)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("su") is None, reason="needs root")
def test_meta_data_and_usage_work_as_nobody(public_tmp):
    import pathlib
    _check_as_nobody(pathlib.Path(public_tmp) / "tree")


def _check_as_nobody(copy):
    for part in ("ocf", "examples"):
        shutil.copytree(os.path.join(ROOT, part), copy / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "procrun.py"), copy / "procrun.py")
    for action in ("meta-data", "usage"):
        done = subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c",
                               "%s %s" % (copy / "examples" / "ocf-sample", action)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert not list(copy.rglob("__pycache__"))  # nobody wrote nothing


# --- logging ----------------------------------------------------------------------------------
def test_log_file_debug_and_instance_tag(tmp_path):
    logfile, debuglog = tmp_path / "ha.log", tmp_path / "debug.log"
    log = Logger("agent", "p_mfs:0", {"HA_LOGFILE": str(logfile), "HA_DEBUGLOG": str(debuglog)},
                 io.StringIO())
    log.debug("hidden")
    log.info("shown")
    assert "agent(p_mfs:0) INFO: shown" in logfile.read_text()
    assert "hidden" not in debuglog.read_text()
    loud = Logger("agent", "x", {"HA_debug": "1", "HA_DEBUGLOG": str(debuglog)}, io.StringIO())
    loud.debug("now visible")
    assert "DEBUG: now visible" in debuglog.read_text()


def test_syslog_facility_is_taken_from_the_cluster_settings():
    assert Logger("a", "", {"HA_LOGFACILITY": "daemon"}, io.StringIO()).facility == "daemon"
    assert Logger("a", "", {"PCMK_logfacility": "local5"}, io.StringIO()).facility == "local5"
    assert Logger("a", "", {"HA_LOGFACILITY": "none"}, io.StringIO()).facility is None


def test_terminal_gets_log_lines():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    stream = Tty()
    Logger("a", "i", {}, stream).warning("careful")
    assert stream.getvalue() == "a(i) WARNING: careful\n"


# --- notify -----------------------------------------------------------------------------------
def test_notify_reads_new_names_and_falls_back_to_legacy():
    base = {"OCF_RESKEY_CRM_meta_notify_type": "pre",
            "OCF_RESKEY_CRM_meta_notify_operation": "promote",
            "OCF_RESKEY_CRM_meta_notify_promote_uname": "n2 ",
            "OCF_RESKEY_CRM_meta_notify_all_uname": "n1 n2 n3"}
    new = notify.Notification(Environment([], dict(base, **{
        "OCF_RESKEY_CRM_meta_notify_unpromoted_uname": "n2 n3",
        "OCF_RESKEY_CRM_meta_notify_slave_uname": "stale"})))
    assert new.key == "pre-promote" and new.unames["unpromoted"] == ["n2", "n3"]
    assert new.unames["promote"] == ["n2"] and new.unames["all"] == ["n1", "n2", "n3"]
    legacy = notify.Notification(Environment([], dict(base, **{
        "OCF_RESKEY_CRM_meta_notify_master_uname": "n1",
        "OCF_RESKEY_CRM_meta_notify_slave_resource": "r:1 r:2"})))
    assert legacy.unames["promoted"] == ["n1"] and legacy.resources["unpromoted"] == ["r:1", "r:2"]
    assert notify.Notification(Environment([], {})).key == ""


# --- cluster helpers ----------------------------------------------------------------------------
def _cluster(fake, node, **extra):
    environ = fake.environ(node, OCF_RESOURCE_INSTANCE="p_mfs:0", **extra)
    env = Environment(["a", "monitor"], environ)
    log = Logger("a", "p_mfs:0", {}, io.StringIO())
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(environ)
    return Cluster(env, log, Deadline(10, start=time.monotonic())), saved


def _restore(saved):
    os.environ.clear()
    os.environ.update(saved)


def test_promotion_score_and_private_attributes_through_the_tools(tmp_path):
    fake = FakeCluster(str(tmp_path))
    cluster, saved = _cluster(fake, "n1")
    try:
        assert cluster.set_promotion_score(900) and fake.score("p_mfs", "n1") == 900
        assert cluster.delete_promotion_score() and fake.score("p_mfs", "n1") is None
        assert cluster.set_private("fresh", "42:00")
        fake_n2, _ = _cluster(fake, "n2")
        fake_n2.set_private("fresh", "50:00")
        assert cluster.query_private_all("fresh") == {"n1": "42:00", "n2": "50:00"}
        assert cluster.set_property("hwm", "7:AA") and cluster.get_property("hwm") == "7:AA"
        assert sorted(cluster.partition_nodes()) == ["n1", "n2"]
    finally:
        _restore(saved)
    assert any("crm_attribute --promotion=p_mfs --lifetime=reboot --update=900" in c
               for c in fake.calls())
    assert any("attrd_updater --private --lifetime=reboot --name=fresh --update=42:00" in c
               for c in fake.calls())


def test_old_pacemaker_uses_crm_master(tmp_path):
    fake = FakeCluster(str(tmp_path))
    cluster, saved = _cluster(fake, "n1", OCF_RESKEY_crm_feature_set="3.2.0")
    try:
        cluster.set_promotion_score(5)
    finally:
        _restore(saved)
    assert any(" crm_master -l reboot --update=5" in c for c in fake.calls())


def test_cluster_helpers_degrade_to_warnings_without_a_cluster(tmp_path):
    fake = FakeCluster(str(tmp_path))
    cluster, saved = _cluster(fake, "n1", FAKE_CLUSTER_DOWN="1")
    try:
        assert cluster.set_promotion_score(1) is False
        assert cluster.query_private_all("x") == {} and cluster.get_property("x") is None
        assert cluster.partition_nodes() is None
    finally:
        _restore(saved)


# --- binaries and subprocesses --------------------------------------------------------------------
def test_have_binary_honours_ocf_tester_switch():
    assert have_binary("sh", {"PATH": "/bin:/usr/bin"})
    assert not have_binary("sh", {"PATH": "/bin:/usr/bin", "OCF_TESTER_FAIL_HAVE_BINARY": "1"})
    assert not have_binary("surely-not-installed-here", {"PATH": "/bin"})


def test_run_captures_output_and_exit_code():
    result = run(["sh", "-c", "echo out; echo err >&2; exit 3"], 10)
    assert (result.returncode, result.stdout, result.stderr, result.timed_out) == (3, "out\n", "err\n", False)
    assert run(["no-such-binary-anywhere"], 5).returncode == 127


def test_run_kills_at_the_deadline():
    started = time.monotonic()
    result = run(["sh", "-c", "sleep 30; echo never"], 0.5)
    assert result.timed_out and not result.ok and time.monotonic() - started < 10
    assert "timed out" in result.describe()


def test_deadline_keeps_a_reserve_from_the_action_timeout():
    deadline = Deadline(20.0, reserve=2.0, start=time.monotonic())
    assert 17.0 < deadline.remaining() <= 18.0
    assert deadline.sub(1.0).remaining() <= 1.0


def _update_many(folder: str, writer: int) -> None:
    from ocf.state import StateFile
    state = StateFile(folder, "shared.state")
    for key in range(40):
        state.update(**{"w%d_%d" % (writer, key): "x"})


def test_state_updates_from_several_processes_lose_no_key(tmp_path):
    import multiprocessing
    from ocf.state import StateFile
    writers = [multiprocessing.get_context("fork").Process(target=_update_many,
                                                         args=(str(tmp_path), n))
               for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [w.exitcode for w in writers] == [0] * 4
    assert len(StateFile(str(tmp_path), "shared.state").read()) == 4 * 40


def test_a_state_locked_too_long_fails_the_update_instead_of_hanging(tmp_path, monkeypatch):
    import fcntl
    from ocf import state as state_module
    monkeypatch.setattr(state_module, "LOCK_SECONDS", 0.2)
    state = state_module.StateFile(str(tmp_path), "s")
    with open(state.path + ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            state.update(a="1")
        assert time.monotonic() - started < 5
    state.update(a="1")
    assert state.read() == {"a": "1"}


def test_the_manual_page_is_reproducible_and_spells_defaults_as_the_meta_data_does():
    from ocf.manpage import page_date, render
    info = AgentInfo(name="sample", version="1.0", shortdesc="s", longdesc="l",
                     parameters=[Parameter("flag", "f", "a flag", type=BOOLEAN, default=False),
                                 Parameter("count", "c", "a count", type=INTEGER, default=20)],
                     actions=[Action("start", 60)])
    page = render(info, "prov", page_date({"SOURCE_DATE_EPOCH": "1796601600"}))
    assert '.TH OCF_PROV_SAMPLE 7 "2026-12"' in page
    assert "(boolean, default false)" in page and "(integer, default 20)" in page
    assert "False" not in page
    assert page_date({"SOURCE_DATE_EPOCH": "0"}) == "1970-01"


def test_attrd_query_is_read_from_its_xml_output():
    from ocf.attributes import parse_query
    text = ('<pacemaker-result api-version="2.25" request="attrd_updater --query --all">\n'
            '  <attribute name="x" value="12 changes &quot;behind&quot; &lt;n2&gt;" host="n1"/>\n'
            '  <attribute name="x" value="" host="n3"/>\n'
            '  <attribute name="x" value="7"/>\n'
            '  <attribute name="x" value="8" host="n2"/>\n'
            '  <status code="0" message="OK"/>\n</pacemaker-result>\n')
    assert parse_query(text) == {"n1": '12 changes "behind" <n2>', "n2": "8"}
    assert parse_query('name="x" host="n1" value="1"') == {}  # the text form is not read
    assert parse_query("<pacemaker-result><attribute") == {}


def test_a_cluster_option_is_read_with_crm_attribute(tmp_path, monkeypatch):
    from ocf.cib import CibError, cluster_option
    fake = FakeCluster(str(tmp_path))
    for key, value in fake.environ("n1").items():
        monkeypatch.setenv(key, value)
    assert cluster_option("mfsha-mfs-hwm") is None  # not set: exit 105
    subprocess.run(["crm_attribute", "--type=crm_config", "--name=mfsha-mfs-hwm",
                    "--update=7:AA"], check=True)
    assert cluster_option("mfsha-mfs-hwm") == "7:AA"
    monkeypatch.setenv("FAKE_CLUSTER_DOWN", "1")
    with pytest.raises(CibError, match="no cluster running here"):
        cluster_option("mfsha-mfs-hwm")
