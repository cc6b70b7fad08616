"""Return codes and exit reasons of ocf:mfsha:mfsmaster without MooseFS daemons."""
from __future__ import annotations

import os
import shutil

import pytest

from failover.mark import Freshness
from ocf.state import ValueFile
from tests.agentlib import AGENT, CLONE_META, agent_env, call, imported_modules
from tests.fakecluster import FakeCluster
from tests.synthetic import write_changelog, write_image
from tests.moosefs_versions import SAMPLE_TARBALL, sample_keys
from mfsha import store

HWM = store.hwm_property("p_mfs")


F = Freshness


@pytest.fixture
def fake(tmp_path):
    return FakeCluster(str(tmp_path / "cluster"))


def base_env(fake, tmp_path, node="n1", **extra):
    return agent_env(str(tmp_path / ("run-%s" % node)), node, fake, **extra)


def publish(fake, tmp_path, node: str, value: str, what: str = "freshness") -> None:
    """What `node`'s agent publishes as its freshness (or the time of its newest change)."""
    import subprocess
    subprocess.run(["attrd_updater", "--private", "--name=" + store.shown_attribute("p_mfs", what),
                    "--update=" + value], env=base_env(fake, tmp_path, node=node), check=True)


def configs(tmp_path, data_owner="mfs", same_path=True):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    if data_owner:
        shutil.chown(data, data_owner, data_owner)
    master = tmp_path / "mfsmaster.cfg"
    master.write_text("DATA_PATH = %s\nMATOCL_LISTEN_PORT = 23421\n" % data)
    metalogger = tmp_path / "mfsmetalogger.cfg"
    metalogger.write_text("DATA_PATH = %s\n" % (data if same_path else tmp_path))
    return {"OCF_RESKEY_master_cfg": str(master), "OCF_RESKEY_metalogger_cfg": str(metalogger)}


# --- the election rule ------------------------------------------------------------------------










def test_freshness_text_round_trip():
    value = F.parse(F(16803, 0x6B06C1F8DBC0458C).text())
    assert (value.version, value.metaid) == (16803, 0x6B06C1F8DBC0458C)
    assert F.parse("junk") is None and F.parse("") is None
    assert F(1, 0).same_filesystem(F(2, 5)) and not F(1, 4).same_filesystem(F(2, 5))


# --- actions without daemons ------------------------------------------------------------------------
def test_probe_on_a_node_with_nothing_installed(fake, tmp_path):
    env = base_env(fake, tmp_path, OCF_RESKEY_master_cfg="/nonexistent/mfsmaster.cfg",
                   OCF_TESTER_FAIL_HAVE_BINARY="1")
    assert call("monitor", env, interval_ms=0).code == 7
    env.pop("OCF_TESTER_FAIL_HAVE_BINARY")
    assert call("monitor", env, interval_ms=0).code == 7


def test_recurring_monitor_without_config_is_err_configured(fake, tmp_path):
    env = base_env(fake, tmp_path, OCF_RESKEY_master_cfg="/nonexistent/mfsmaster.cfg")
    outcome = call("monitor", env, interval_ms=11000)
    assert outcome.code == 6 and "/nonexistent/mfsmaster.cfg does not exist" in outcome.reason


def test_stop_without_anything_is_success(fake, tmp_path):
    env = base_env(fake, tmp_path, OCF_RESKEY_master_cfg="/nonexistent/mfsmaster.cfg")
    assert call("stop", env).code == 0


def test_monitor_of_stopped_node_is_not_running(fake, tmp_path):
    env = base_env(fake, tmp_path, **configs(tmp_path))
    assert call("monitor", env, interval_ms=0).code == 7
    assert call("monitor", env, interval_ms=11000).code == 7


def test_monitor_after_promoted_master_died_is_failed_promoted(fake, tmp_path):
    env = base_env(fake, tmp_path, **configs(tmp_path))
    state = tmp_path / "run-n1" / "mfsha-p_mfs.state"
    state.parent.mkdir()
    state.write_text("promoted=1\n")
    outcome = call("monitor", env, interval_ms=10000)
    assert outcome.code == 9 and "mfsmaster died" in outcome.reason


@pytest.mark.parametrize("meta,word", [({"OCF_RESKEY_CRM_meta_notify": "false"}, "notify=true"),
                                       ({"OCF_RESKEY_CRM_meta_promoted_max": "2"}, "promoted-max=1"),
                                       ({"OCF_RESKEY_CRM_meta_clone_node_max": "2"}, "clone-node-max=1"),
                                       ({"OCF_RESKEY_CRM_meta_promotable": "false"}, "promotable=true")])
def test_validate_rejects_a_wrong_clone(fake, tmp_path, meta, word):
    env = base_env(fake, tmp_path, **CLONE_META)
    env.update(meta)
    outcome = call("validate-all", env)
    assert outcome.code == 6 and word in outcome.reason


def test_validate_level_0_checks_nothing_local(fake, tmp_path):
    env = base_env(fake, tmp_path, OCF_RESKEY_master_cfg="/nonexistent", **CLONE_META)
    assert call("validate-all", env).code == 0


def test_validate_level_10_local_checks(fake, tmp_path):
    env = base_env(fake, tmp_path, OCF_CHECK_LEVEL="10", **CLONE_META)
    assert call("validate-all", dict(env, OCF_RESKEY_master_cfg="/nonexistent")).code == 6
    assert call("validate-all", dict(env, **configs(tmp_path))).code == 0
    outcome = call("validate-all", dict(env, OCF_TESTER_FAIL_HAVE_BINARY="1", **configs(tmp_path)))
    assert outcome.code == 5 and "not installed" in outcome.reason


def test_validate_level_10_wrong_owner_and_split_data_paths(fake, tmp_path):
    env = base_env(fake, tmp_path, OCF_CHECK_LEVEL="10", **CLONE_META)
    wrong_owner = call("validate-all", dict(env, **configs(tmp_path, data_owner="root")))
    assert wrong_owner.code == 6 and "owned by mfs" in wrong_owner.reason
    split = call("validate-all", dict(env, **configs(tmp_path, same_path=False)))
    assert split.code == 6 and "DATA_PATH differs" in split.reason


def test_bad_config_line_names_file_and_line(fake, tmp_path):
    cfgs = configs(tmp_path)
    with open(cfgs["OCF_RESKEY_master_cfg"], "a") as stream:
        stream.write("this is not a setting\n")
    outcome = call("validate-all", base_env(fake, tmp_path, OCF_CHECK_LEVEL="10", **cfgs))
    assert outcome.code == 6 and "mfsmaster.cfg:3" in outcome.reason


def unknown_key_env(fake, tmp_path, **log_settings):
    cfgs = configs(tmp_path)
    with open(cfgs["OCF_RESKEY_master_cfg"], "a") as stream:
        stream.write("RESTRICT_INCOMPATIBLE_CLIENT_VERSIONS = 0\nMATOCL_TIMOUT = 10\n")
    env = base_env(fake, tmp_path, OCF_CHECK_LEVEL="10", **cfgs)
    for name in ("HA_LOGFILE", "HA_LOGFACILITY", "PCMK_logfacility", "PCMK_logfile"):
        env.pop(name, None)
    env.update(log_settings)
    warning = ("mfsha-mfsmaster(p_mfs:0) WARNING: %s:4: unknown setting MATOCL_TIMOUT (MooseFS "
               "ignores it; a typo?)" % cfgs["OCF_RESKEY_master_cfg"])
    return env, warning


def test_unknown_config_key_is_a_warning_with_file_and_line_not_an_error(fake, tmp_path):
    env, warning = unknown_key_env(fake, tmp_path, PCMK_logfacility="none")
    outcome = call("validate-all", env)
    assert outcome.code in (0, 5), outcome  # 5: no MooseFS binaries on this machine
    # Without syslog or a log file, log lines go to stderr: pacemaker-execd logs them.
    assert [line for line in outcome.stderr.splitlines() if "WARNING" in line] == [warning]


@pytest.mark.skipif(not os.path.exists(SAMPLE_TARBALL), reason="no MooseFS 4.59.2 source")
def test_validate_all_accepts_every_key_of_the_459_sample_files(fake, tmp_path):
    cfgs = configs(tmp_path)
    for name, variable in (("mfsmaster", "OCF_RESKEY_master_cfg"),
                           ("mfsmetalogger", "OCF_RESKEY_metalogger_cfg")):
        # The samples' @PLACEHOLDER@ values of what validate-all checks, set after
        # them: the last value of a key wins, as in MooseFS.
        ours = "WORKING_USER = mfs\nWORKING_GROUP = mfs\n" + open(cfgs[variable]).read()
        with open(cfgs[variable], "w") as stream:
            stream.write("\n".join(sample_keys(name)) + "\n" + ours)
    env = base_env(fake, tmp_path, OCF_CHECK_LEVEL="10", PCMK_logfacility="none", **cfgs)
    env.pop("HA_LOGFILE", None)
    outcome = call("validate-all", env)
    assert outcome.code in (0, 5), outcome  # 5: no MooseFS binaries on this machine
    assert "WARNING" not in outcome.stderr and outcome.reason == ""


@pytest.mark.parametrize("variable", ["PCMK_logfile", "HA_LOGFILE"])
def test_log_lines_go_to_the_cluster_log_file_when_one_is_set(fake, tmp_path, variable):
    logfile = tmp_path / "pacemaker.log"
    env, warning = unknown_key_env(fake, tmp_path, **{variable: str(logfile)})
    outcome = call("validate-all", env)
    assert outcome.code in (0, 5) and "WARNING" not in outcome.stderr
    assert logfile.read_text().rstrip("\n").endswith(warning)


def test_bad_boolean_parameter_is_err_configured(fake, tmp_path):
    env = base_env(fake, tmp_path, OCF_RESKEY_allow_data_loss="perhaps", **configs(tmp_path))
    outcome = call("start", env)
    assert outcome.code == 6 and "allow_data_loss" in outcome.reason


def test_notify_without_variables_succeeds(fake, tmp_path):
    assert call("notify", base_env(fake, tmp_path, **configs(tmp_path))).code == 0


def test_reload_changes_nothing_and_only_the_config_paths_force_a_restart(fake, tmp_path):
    """Pacemaker reloads instead of restarting when only non-unique parameters changed
    (the pre-OCF-1.1 rule, which 3.0 keeps): unsetting allow_data_loss must not demote."""
    from xml.etree import ElementTree
    meta = ElementTree.fromstring(call("meta-data", base_env(fake, tmp_path)).stdout)
    unique = {p.get("name") for p in meta.iter("parameter") if p.get("unique") == "1"}
    assert unique == {"master_cfg", "metalogger_cfg"}
    assert "reload" in {a.get("name") for a in meta.iter("action")}
    env = base_env(fake, tmp_path, **configs(tmp_path))
    before = sorted(os.listdir(tmp_path))
    assert call("reload", env).code == 0
    assert sorted(os.listdir(tmp_path)) == before


def test_unknown_action(fake, tmp_path):
    outcome = call("migrate_to", base_env(fake, tmp_path))
    assert outcome.code == 3 and "not implemented" in outcome.reason


def test_promote_refuses_to_create_a_file_system_without_opt_in(fake, tmp_path):
    env = base_env(fake, tmp_path, **configs(tmp_path))
    outcome = call("promote", env)
    assert outcome.code == 1 and "allow_new_filesystem=true" in outcome.reason


def test_promote_refuses_when_a_peer_is_fresher(fake, tmp_path):
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 150))
    env = base_env(fake, tmp_path, **cfgs)
    publish(fake, tmp_path, "n2", "900:6B06C1F8DBC0458C")
    outcome = call("promote", env)
    assert outcome.code == 1
    assert "node n2 holds fresher metadata (version 900, here 150)" in outcome.reason
    assert fake.score("p_mfs", "n2") == 1000 and fake.score("p_mfs", "n1") == 1
    assert os.path.exists(data / "metadata_ml.mfs.back")  # nothing touched
    # mfsha metrics reads what it came to: a refusal by kind, the steps it took.
    from mfsha.records import records, steps_of
    kept = records("p_mfs", {"HA_RSCTMP": env["HA_RSCTMP"]}).read()
    assert kept["refusals_fresher_peer"] == "1" and kept["last_promote_outcome"] == \
        "fresher_peer" and "promotes" not in kept
    assert [name for name, _ in steps_of(kept["last_promote_steps"])] == \
        ["metalogger_stop", "inspection", "election"]
    assert call("promote", env).code == 1
    assert records("p_mfs", {"HA_RSCTMP": env["HA_RSCTMP"]}).read()[
        "refusals_fresher_peer"] == "2"


def test_promote_refuses_below_high_water_mark(fake, tmp_path):
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    fake.set_property(HWM, "5000:6B06C1F8DBC0458C")
    outcome = call("promote", base_env(fake, tmp_path, **cfgs))
    assert outcome.code == 1 and "below the version 5000" in outcome.reason
    assert "allow_data_loss=true" in outcome.reason


def test_promote_refuses_metadata_with_a_hole_and_touches_nothing(fake, tmp_path):
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.1.mfs"), range(100, 150))
    write_changelog(str(data / "changelog_ml.0.mfs"), range(160, 200))
    before = sorted(os.listdir(data))
    fake.set_score("p_mfs", "n1", 1000)  # a monitor's score from before the hole
    outcome = call("promote", base_env(fake, tmp_path, **cfgs))
    assert outcome.code == 1 and "cannot be restored" in outcome.reason
    assert "changes 150 to 159 are missing" in outcome.reason
    assert sorted(os.listdir(data)) == before
    # Ranked again at once: Pacemaker must not retry the promote here.
    assert fake.score("p_mfs", "n1") is None


def test_high_water_mark_text_with_and_without_its_master():
    mark = F.parse("16803:6B06C1F8DBC0458C:node2:0123456789abcdef")
    assert (mark.version, mark.node, mark.fingerprint) == (16803, "node2", "0123456789abcdef")
    assert F.parse(mark.text()).text() == mark.text()
    legacy = F.parse("16803:6B06C1F8DBC0458C")  # written before masters were recorded
    assert legacy.node == "" and legacy.text() == "16803:6B06C1F8DBC0458C"
    assert not legacy.known("node2").last_master_here
    assert mark.known("node2").last_master_here and not mark.known("node1").last_master_here


def test_promote_refuses_when_the_history_rule_cannot_decide_and_says_how(fake, tmp_path):
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 150))
    write_image(str(data / "metadata.mfs"), 900)  # own files higher; no high-water mark
    before = sorted(os.listdir(data))
    outcome = call("promote", base_env(fake, tmp_path, **cfgs))
    assert outcome.code == 1 and "master files restore to 900, metalogger files to 150" \
        in outcome.reason
    assert "to decide by hand" in outcome.reason
    assert "crm_attribute --type crm_config --name " + HWM in outcome.reason
    assert sorted(os.listdir(data)) == before


def test_promote_of_another_node_at_the_mark_ignores_own_master_files(fake, tmp_path):
    """The issue's trap: abandoned-branch master files copied in (fresh times), higher
    than the cluster's history; the mark says another node was the last master."""
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 150))
    write_image(str(data / "metadata.mfs"), 14211)
    fake.set_property(HWM, "140:6B06C1F8DBC0458C:n2:")
    env = base_env(fake, tmp_path, **cfgs)
    assert call("monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0")).code == 7
    outcome = call("promote", env)
    # Synthetic files: MooseFS may not restore them, but the choice is made before.
    assert "step inspection: %s: restorable, version 150" % data in outcome.stderr


@pytest.fixture
def metalogger_lock(tmp_path):
    """A stand-in for a running mfsmetalogger: a process holding its lock."""
    import subprocess
    import sys
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    code = ("import fcntl, sys, time\n"
            "f = open(sys.argv[1], 'w'); fcntl.lockf(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(data / ".mfsmetalogger.lock")],
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"locked"
        yield child
    finally:
        child.kill()
        child.wait(10)


@pytest.fixture
def fake_metalogger_bin(tmp_path):
    """make(tmp_path, starts): a folder with an `mfsmetalogger` whose `start` records its
    arguments in `starts` and leaves a holder of the data folder's metalogger lock
    behind; every holder is killed afterwards."""
    yield _fake_metalogger_bin
    import time
    from moosefs.daemons import lock_owner
    for _ in range(10):
        holder = lock_owner(str(tmp_path / "data" / ".mfsmetalogger.lock"))
        if not holder:
            break
        os.kill(holder, 9)
        time.sleep(0.05)


def _fake_metalogger_bin(tmp_path, starts) -> str:
    import sys
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    holder = ("import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
              "fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(60)")
    fake_logger = bin_dir / "mfsmetalogger"
    fake_logger.write_text('#!/bin/sh\necho "$*" >> %s\nsetsid %s -c "%s" %s </dev/null '
                           '>/dev/null 2>&1 &\nsleep 0.5\n'
                           % (starts, sys.executable, holder,
                              tmp_path / "data" / ".mfsmetalogger.lock"))
    fake_logger.chmod(0o755)
    return str(bin_dir)


def test_a_metalogger_with_a_hole_is_restarted_once(fake, tmp_path, metalogger_lock,
                                                     fake_metalogger_bin):
    """MooseFS 4.57 metaloggers that connected right after a new master's first changes
    missed them (a hole after the image, seen in the Debian 13 cluster); a restart
    downloads the image and changelogs again. Not again within HOLE_RESTART_SECONDS."""
    import time
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(101, 150))  # 100 is missing
    starts = tmp_path / "starts"
    env = base_env(fake, tmp_path, **cfgs)
    env["PATH"] = "%s:%s" % (fake_metalogger_bin(tmp_path, starts), env["PATH"])
    outcome = call("monitor", env, interval_ms=11000)
    assert outcome.code == 0 and "metalogger files have a hole" in outcome.stderr
    assert metalogger_lock.wait(10) == -15  # the old metalogger got SIGTERM
    assert starts.read_text().split() == ["-c", cfgs["OCF_RESKEY_metalogger_cfg"], "start"]
    assert call("monitor", env, interval_ms=11000).code == 0
    assert len(starts.read_text().splitlines()) == 1  # not again so soon
    time.sleep(0.1)
    assert call("stop", env).code == 0


def test_a_metalogger_ahead_of_a_forced_promotion_keeps_a_copy_of_its_history(
        fake, tmp_path, metalogger_lock):
    import tarfile
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 900))
    publish(fake, tmp_path, "n2", "300:6B06C1F8DBC0458C")
    notify = {"OCF_RESKEY_CRM_meta_notify_type": "pre",
              "OCF_RESKEY_CRM_meta_notify_operation": "promote",
              "OCF_RESKEY_CRM_meta_notify_promote_uname": "n2",
              "OCF_RESKEY_CRM_meta_notify_unpromoted_uname": "n1 n2"}
    outcome = call("notify", base_env(fake, tmp_path, **cfgs, **notify))
    assert outcome.code == 0 and "ahead of n2" in outcome.stderr
    archives = os.listdir(str(data) + "-archive")
    assert len(archives) == 1
    names = tarfile.open(os.path.join(str(data) + "-archive", archives[0])).getnames()
    assert sorted(names) == ["changelog_ml.0.mfs", "metadata_ml.mfs.back"]
    assert os.path.exists(data / "changelog_ml.0.mfs")  # a copy: nothing moved
    assert call("notify", base_env(fake, tmp_path, **cfgs, **notify)).code == 0
    assert len(os.listdir(str(data) + "-archive")) == 1  # the same history is not copied twice
    # A promotion of a node that is not behind archives nothing.
    publish(fake, tmp_path, "n2", "900:6B06C1F8DBC0458C")
    assert call("notify", base_env(fake, tmp_path, **cfgs, **notify)).code == 0
    assert len(os.listdir(str(data) + "-archive")) == 1


# --- the election's explanation (mfsha why uses the same judge) ------------------------------




def test_a_depth_10_monitor_fails_a_standby_whose_configs_broke(fake, tmp_path,
                                                                 metalogger_lock):
    cfgs = configs(tmp_path)
    env = base_env(fake, tmp_path, **cfgs)
    assert call("monitor", dict(env, OCF_CHECK_LEVEL="10"), interval_ms=300000).code == 0
    configs(tmp_path, data_owner="root")  # an administrator changed the data folder
    deep = call("monitor", dict(env, OCF_CHECK_LEVEL="10"), interval_ms=300000)
    assert deep.code == 1 and deep.reason.startswith("depth-10 check: ") and \
        "owned by mfs" in deep.reason
    assert call("monitor", env, interval_ms=11000).code == 0  # depth 0 checks none of it


def test_crm_mon_shows_version_lag_and_promotability_written_only_on_change(
        fake, tmp_path, metalogger_lock):
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 150))
    publish(fake, tmp_path, "n2", "2000:6B06C1F8DBC0458C")
    publish(fake, tmp_path, "n2", "1795605104", "stamp")  # 120 s after n1's newest change
    env = base_env(fake, tmp_path, **cfgs)
    assert call("monitor", env, interval_ms=11000).code == 0
    shown = {what: fake.private(store.shown_attribute("p_mfs", what), "n1")
             for what in store.SHOWN}
    assert shown == {"version": "150", "lag": "under 10000 changes, under 600 s",
                     "lag-changes": "1000", "promotable": "yes (peer n2 fresher)"}
    assert fake.private(store.stamp_attribute("p_mfs"), "n1") == "1795604984"
    calls = len(fake.calls())
    for _ in range(2):
        assert call("monitor", env, interval_ms=11000).code == 0
    assert [c for c in fake.calls()[calls:] if "--update" in c] == []
    assert call("stop", env).code == 0
    assert fake.private(store.shown_attribute("p_mfs", "promotable"), "n1") is None


def test_a_failed_promote_elsewhere_does_not_release_the_yield(fake, tmp_path):
    """Pacemaker sends post-promote also after a promote that failed (seen in the
    namespace cluster: the yielding node was picked again at once). Only a high-water
    mark written by a successful promote of another node releases it."""
    env = base_env(fake, tmp_path, **configs(tmp_path))
    mark = tmp_path / "run-n1" / "mfsha-p_mfs.yield"
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text("version=846\nto=n3\n")
    post = {"OCF_RESKEY_CRM_meta_notify_type": "post",
            "OCF_RESKEY_CRM_meta_notify_operation": "promote",
            "OCF_RESKEY_CRM_meta_notify_promote_uname": "n1"}
    fake.set_property(HWM, "498:6B06C1F8DBC0458C:n1:")
    assert call("notify", dict(env, **post)).code == 0
    assert mark.exists()  # our own promote failed: the mark from elect stays
    fake.set_property(HWM, "846:6B06C1F8DBC0458C:n3:ab")
    post["OCF_RESKEY_CRM_meta_notify_promote_uname"] = "n3"
    assert call("notify", dict(env, **post)).code == 0
    assert not mark.exists()


# --- a cluster tool that fails is "could not ask", never "absent" -----------------------------
PACEMAKER_CALLS = {"OCF_RESKEY_crm_feature_set": "3.16.2"}  # as Pacemaker passes it


@pytest.mark.parametrize("how", ["FAKE_FAIL", "FAKE_HANG"])
def test_promote_refuses_when_the_mark_cannot_be_read(fake, tmp_path, how):
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)  # below the mark
    fake.set_property(HWM, "5000:6B06C1F8DBC0458C:n2:")
    before = sorted(os.listdir(data))
    env = base_env(fake, tmp_path, **cfgs, **PACEMAKER_CALLS, **{how: "crm_config"})
    outcome = call("promote", env)
    assert outcome.code == 1, outcome
    assert "could not read the cluster's high-water mark" in outcome.reason
    assert "timed out" in outcome.reason if how == "FAKE_HANG" else "exit 102" in outcome.reason
    assert sorted(os.listdir(data)) == before
    assert fake.state()["config:" + HWM] == "5000:6B06C1F8DBC0458C:n2:"


def test_promote_refuses_when_an_unreadable_mark_is_set(fake, tmp_path):
    cfgs = configs(tmp_path)
    write_image(str(tmp_path / "data" / "metadata_ml.mfs.back"), 100)
    fake.set_property(HWM, "garbage")
    outcome = call("promote", base_env(fake, tmp_path, **cfgs, **PACEMAKER_CALLS))
    assert outcome.code == 1 and "holds 'garbage'" in outcome.reason


@pytest.mark.parametrize("failing", ["crm_node", "attrd_updater --query"])
def test_promote_refuses_when_peers_cannot_be_asked(fake, tmp_path, failing):
    cfgs = configs(tmp_path)
    write_image(str(tmp_path / "data" / "metadata_ml.mfs.back"), 100)
    env = base_env(fake, tmp_path, **cfgs, **PACEMAKER_CALLS, FAKE_FAIL=failing)
    outcome = call("promote", env)
    assert outcome.code == 1, outcome
    assert "could not ask the cluster for its members' freshness" in outcome.reason


def test_without_a_cluster_a_failed_read_counts_as_absent(fake, tmp_path):
    """ocf-tester's case: no Pacemaker calls the agent and no CIB runs on this node."""
    from ocf.attributes import cib_runs_here
    if cib_runs_here():
        pytest.skip("a Pacemaker CIB runs in this network namespace")
    cfgs = configs(tmp_path)
    write_image(str(tmp_path / "data" / "metadata_ml.mfs.back"), 100)
    outcome = call("promote", base_env(fake, tmp_path, **cfgs, FAKE_CLUSTER_DOWN="1"))
    assert "could not" not in outcome.reason
    assert "no cluster runs here" in outcome.stderr


# --- what a node publishes is what its restore reaches ----------------------------------------
def _published_version(fake, node="n1"):
    text = fake.private(store.freshness_attribute("p_mfs"), node)
    return int(text.split(":")[0]) if text else None


def monitored_metalogger(fake, tmp_path, ids, fake_metalogger_bin):
    """A metalogger's image at 100 and one changelog of `ids`, after one Unpromoted
    monitor as Pacemaker runs it; returns the data folder."""
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), ids)
    env = base_env(fake, tmp_path, **cfgs, **PACEMAKER_CALLS)
    env["PATH"] = "%s:%s" % (fake_metalogger_bin(tmp_path, tmp_path / "starts"), env["PATH"])
    assert call("monitor", env, interval_ms=11000).code == 0
    return data


def test_a_hole_inside_one_changelog_is_published_as_the_restore_sees_it(
        fake, tmp_path, metalogger_lock, fake_metalogger_bin):
    from moosefs.inspect import inspect
    # One file, first and last lines 100 and 299: 150-199 are missing inside it.
    data = monitored_metalogger(fake, tmp_path, list(range(100, 150)) + list(range(200, 300)),
                                fake_metalogger_bin)
    restore_view = inspect(str(data), thorough=True)
    assert restore_view.verdict == "hole"
    assert _published_version(fake) == 0  # "0:0": nothing promotable here
    assert fake.score("p_mfs", "n1") is None


def test_a_backward_jump_is_published_as_the_restore_sees_it(fake, tmp_path, metalogger_lock,
                                                            fake_metalogger_bin):
    from moosefs.history import Known
    from moosefs.inspect import inspect
    # mfsmaster stops reading at the jump back to 120: the restore never reaches 400.
    data = monitored_metalogger(fake, tmp_path, list(range(100, 200)) + list(range(120, 401)),
                                fake_metalogger_bin)
    restore_view = inspect(str(data), thorough=True, known=Known(0, False))
    fast_view = inspect(str(data), known=Known(0, False))
    assert fast_view.restorable and fast_view.version == 401  # what was published before
    assert _published_version(fake) == (restore_view.version if restore_view.restorable else 0)
    assert _published_version(fake) != 401


def test_the_monitor_reads_only_appended_changelog_lines(fake, tmp_path, metalogger_lock,
                                                        fake_metalogger_bin):
    from tests.synthetic import change_line
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    log = data / "changelog_ml.0.mfs"
    write_changelog(str(log), range(100, 3000))
    env = base_env(fake, tmp_path, **cfgs, **PACEMAKER_CALLS)
    env["PATH"] = "%s:%s" % (fake_metalogger_bin(tmp_path, tmp_path / "starts"), env["PATH"])
    assert call("monitor", env, interval_ms=11000).code == 0
    assert _published_version(fake) == 3000
    with open(log, "ab") as stream:  # the metalogger appends, with a hole
        stream.write(b"".join(change_line(i) for i in range(3000, 3050)))
        stream.write(b"".join(change_line(i) for i in range(3100, 3300)))
    assert call("monitor", env, interval_ms=11000).code == 0
    assert _published_version(fake) == 0  # the hole, found in the appended part
    cache = ValueFile(str(tmp_path / "run-n1"), "mfsha-p_mfs.scans").read()
    assert cache["changelog_ml.0.mfs"]["end"] == os.path.getsize(log)


# --- a promote that cannot finish in time refuses early, saying what to set -------------------
def _big_changelog(path, first: int, megabytes: int) -> None:
    line = b": 1795604984|CREATE(1,some-file-name-of-a-usual-length,1,438,18,0,0,0):7\n"
    count = megabytes * 2**20 // (len(line) + 8)
    with open(path, "wb") as stream:
        for start in range(first, first + count, 100000):
            stream.write(b"".join(b"%d%s" % (i, line)
                                  for i in range(start, min(start + 100000, first + count))))


def test_a_promote_whose_changelogs_exceed_its_timeout_refuses_early(fake, tmp_path):
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    _big_changelog(str(data / "changelog_ml.0.mfs"), 100, 300)
    before = {name: os.path.getsize(data / name) for name in os.listdir(data)}
    env = base_env(fake, tmp_path, **cfgs, **PACEMAKER_CALLS)
    outcome = call("promote", env, timeout_ms=4000)
    assert outcome.code == 1, outcome
    mib = round(os.path.getsize(data / "changelog_ml.0.mfs") / 2**20)
    assert "the inspection alone must read %d MiB of changelogs" % mib in outcome.reason, outcome
    assert "allow the promote at least" in outcome.reason
    assert {name: os.path.getsize(data / name) for name in os.listdir(data)} == before


def test_a_restore_that_cannot_finish_in_time_refuses_before_changing_anything(tmp_path):
    from moosefs import config
    from moosefs.archive import Archiver
    from moosefs.restore import TooLittleTime, restore
    from procrun import Deadline
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    _big_changelog(str(data / "changelog_ml.0.mfs"), 100, 150)
    before = {name: os.path.getsize(data / name) for name in os.listdir(data)}
    with pytest.raises(TooLittleTime) as refused:
        restore(config.master(cfgs["OCF_RESKEY_master_cfg"]), Deadline(4, reserve=0),
                Archiver(str(tmp_path / "archive")))
    assert "set the promote timeout to at least" in str(refused.value)
    mib = round(os.path.getsize(data / "changelog_ml.0.mfs") / 2**20)
    assert "%d MiB of metadata and changelogs" % mib in str(refused.value)
    assert {name: os.path.getsize(data / name) for name in os.listdir(data)} == before


def test_a_monitor_reads_large_changelogs_in_turns_and_offers_nothing_meanwhile(
        fake, tmp_path, metalogger_lock, fake_metalogger_bin):
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    _big_changelog(str(data / "changelog_ml.0.mfs"), 100, 300)
    env = base_env(fake, tmp_path, **cfgs, **PACEMAKER_CALLS)
    env["PATH"] = "%s:%s" % (fake_metalogger_bin(tmp_path, tmp_path / "starts"), env["PATH"])
    # A 2-s monitor timeout leaves 0.8 s to read: not enough for 300 MiB.
    first = call("monitor", env, timeout_ms=2000, interval_ms=11000)
    assert first.code == 0, first
    assert _published_version(fake) == 0
    assert "changelogs not read to the end yet" in first.stderr
    cache = ValueFile(str(tmp_path / "run-n1"), "mfsha-p_mfs.scans").read()
    read = cache["changelog_ml.0.mfs"]["end"]
    assert 0 < read < os.path.getsize(data / "changelog_ml.0.mfs")
    for _ in range(20):  # each monitor reads on from where the last stopped
        if _published_version(fake):
            break
        assert call("monitor", env, timeout_ms=2000, interval_ms=11000).code == 0
    from moosefs.inspect import inspect
    assert _published_version(fake) == inspect(str(data), thorough=True).version


def test_a_promote_that_fails_on_its_own_files_drops_its_score_through_stop_and_start(
        fake, tmp_path):
    """Synthetic files the inspection calls restorable but MooseFS cannot load: the
    node must leave the election at once, or Pacemaker would retry it forever."""
    cfgs = configs(tmp_path)
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 150))
    env = base_env(fake, tmp_path, **cfgs, **PACEMAKER_CALLS)
    fake.set_score("p_mfs", "n1", 1000)  # a monitor's score from before
    outcome = call("promote", env)
    assert outcome.code == 1 and "restore failed" in outcome.reason, outcome
    assert fake.score("p_mfs", "n1") is None
    # Pacemaker's recovery (stop, start) and the next monitors keep it out.
    assert call("stop", env).code == 0
    marks = open(tmp_path / "run-n1" / "mfsha-p_mfs.yield").read()
    assert "restore_failed=150:" in marks, marks
    import subprocess
    import sys
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\n"
                               "f = open(sys.argv[1], 'w'); fcntl.lockf(f, fcntl.LOCK_EX)\n"
                               "print('locked', flush=True); time.sleep(60)\n",
                               str(data / ".mfsmetalogger.lock")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"locked"
        assert call("monitor", env, interval_ms=11000).code == 0
    finally:
        holder.kill()
        holder.wait(10)
    assert fake.score("p_mfs", "n1") is None
    assert fake.state().get("attr:%s:n1" % store.shown_attribute("p_mfs", "promotable")) == \
        "no: its last promote failed on these files"


SLOW_IMPORTS = {"typing", "re", "subprocess", "logging", "enum", "lxml", "json", "collections"}


def test_a_monitor_imports_nothing_slow(fake, tmp_path, metalogger_lock):
    """The monitor runs every few seconds on every node: its imports stay cheap (each of
    these costs a monitor one to several milliseconds). An Unpromoted monitor with its
    metalogger running inspects, publishes and ranks."""
    data = tmp_path / "data"
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 150))
    env = base_env(fake, tmp_path, **configs(tmp_path), **PACEMAKER_CALLS,
                   OCF_RESKEY_CRM_meta_interval="11000", OCF_RESKEY_CRM_meta_timeout="20000",
                   OCF_RESOURCE_INSTANCE="p_mfs:0", OCF_ROOT="/usr/lib/ocf")
    modules = imported_modules([AGENT, "monitor"], env)
    assert fake.private(store.freshness_attribute("p_mfs"), "n1") == "150:6B06C1F8DBC0458C"
    assert "mfsha" in modules and "failover" in modules
    assert not modules & SLOW_IMPORTS, modules & SLOW_IMPORTS
