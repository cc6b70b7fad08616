"""ocf:mfsha:mfsmaster with real MooseFS daemons: ocf-tester, and three instances
electing the freshest node, with a FUSE client checking every file."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from moosefs.daemons import Metalogger, process_alive, serving
from tests.agentlib import call, notify_env
from tests.mfslab import CL_PORT, CSSERV_PORT, wait_until
from tests.mfsha.instances import Instances, installed_agent, version_of
from mfsha import store

HWM = store.hwm_property("p_mfs")





@pytest.mark.skipif(shutil.which("ocf-tester") is None, reason="resource-agents not installed")
def test_ocf_tester_passes_on_the_installed_agent(public_tmp, lab):
    agent = installed_agent(public_tmp)
    node = lab.node("solo")
    done = subprocess.run(
        ["ocf-tester", "-v", "-n", "mfs-tester", "-o", "master_cfg=" + node.master_cfg,
         "-o", "metalogger_cfg=" + node.metalogger_cfg, "-o", "allow_new_filesystem=true", agent],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, HA_RSCTMP=os.path.join(public_tmp, "rsctmp")))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "passed all tests" in done.stdout
    assert not node.master_pid() and not node.metalogger_pid()






def test_three_instances_elect_the_freshest_and_keep_every_file(public_tmp, lab):
    nodes = Instances(lab, public_tmp)
    for name in nodes.names:
        assert nodes.act(name, "start").code == 0
        assert nodes.monitor(name) == 0
        assert nodes.score(name) == 1  # empty new cluster: promotable only by opt-in
    outcome = nodes.promote("a", nodes.names)
    assert outcome.code == 0, outcome
    assert nodes.monitor("a", promoted=True) == 8 and nodes.score("a") == 1001
    lab.start_chunkserver()
    lab.wait_chunkserver_registered()
    lab.mount()
    files = lab.write_files("first", 150, seed=11)

    def caught_up(*names):
        target = version_of(lab, "a")
        return all(version_of(lab, n) == target for n in names)
    wait_until(lambda: caught_up("b", "c"), 30, step=0.3, what="metaloggers to catch up")

    # c is held back: its metalogger misses the second batch.
    Metalogger(lab.node("c").metalogger_cfg, lab.node("c").data).stop(20)
    files.update(lab.write_files("second", 400, seed=12))
    wait_until(lambda: caught_up("b"), 30, step=0.3, what="b to catch up")
    version_at_crash = version_of(lab, "a")
    os.kill(lab.node("a").master_pid(), 9)
    wait_until(lambda: not lab.node("a").master_pid(), 10, what="master a to die")
    assert nodes.monitor("a", promoted=True) == 9
    assert nodes.act("c", "start").code == 0  # c is back, stale, with no master to follow
    for name in ("b", "c"):
        assert nodes.monitor(name) == 0
        nodes.age_peer_cache(name)
        assert nodes.monitor(name) == 0
    assert int(nodes.freshness("b").split(":")[0]) == version_at_crash
    assert int(nodes.freshness("c").split(":")[0]) < version_at_crash
    assert nodes.score("b") > nodes.score("c")

    # Pacemaker picks the stale c (as if scores were stale): promote must refuse.
    refused = nodes.promote("c", ("b", "c"))
    assert refused.code == 1 and "node b holds fresher metadata" in refused.reason
    assert nodes.score("b") == 1000 and nodes.score("c") == 1
    assert lab.node("c").metalogger_pid() and not lab.node("c").master_pid()
    # Pacemaker recovers the failed promote with stop and start: c must keep yielding.
    assert nodes.act("c", "stop").code == 0 and nodes.act("c", "start").code == 0
    assert nodes.score("c") == 1 and nodes.score("b") == 1000

    promoted = nodes.promote("b", ("b", "c"))
    assert promoted.code == 0, promoted
    post = notify_env("post", "promote", promote="b", unpromoted="c", promoted="b")
    assert nodes.act("c", "notify", **post).code == 0
    assert not os.path.exists(os.path.join(public_tmp, "run-c", "mfsha-p_mfs.yield"))
    nodes.age_peer_cache("c")
    assert nodes.monitor("c") == 0
    # c ranks normally again: below the version b's master reached (the high-water
    # mark) it has no score at all; once its metalogger has caught up from b, it has.
    hwm = int(nodes.fake.state()["config:" + HWM].split(":")[0])
    version_c = int(nodes.freshness("c").split(":")[0])
    assert nodes.score("c") == (None if version_c < hwm else 1000), (version_c, hwm)
    assert nodes.monitor("b", promoted=True) == 8
    assert version_of(lab, "b") >= version_at_crash
    lab.assert_files(files)

    # The crashed node is demoted and follows b as a metalogger.
    assert nodes.act("a", "demote").code == 0
    assert nodes.monitor("a") == 0
    files.update(lab.write_files("third", 50, seed=13))
    wait_until(lambda: all(version_of(lab, n) == version_of(lab, "b") for n in ("a", "c")),
               30, step=0.3, what="a and c to follow b")

    # Planned switchover b -> a: demote keeps the metaloggers fed until the master stops.
    assert nodes.act("b", "demote").code == 0
    assert nodes.monitor("b") == 0
    switched = nodes.promote("a", ("a", "b", "c"), first_monitor=False)
    assert switched.code == 0, switched
    # clients are held off until the chunkserver is back (client_hold): the promote's
    # helper lets them in, and the next monitor says so. (Whether the client port is
    # still closed when promote returns depends on how soon the chunkserver reconnects:
    # CI saw it open already on 4.x; the promote's own step says it held them.)
    assert "(clients held off)" in switched.stderr, switched
    wait_until(lambda: serving("127.0.0.1", CL_PORT), 15, step=0.05, what="clients let in")
    logged = nodes.monitor_until_logged("a", "client hold: every chunkserver back; clients let in")
    assert "client hold: every chunkserver back; clients let in" in logged.stderr, logged
    assert nodes.records("a")["last_hold_outcome"] == "let_in"
    assert nodes.records("a")["last_promote_outcome"] == "promoted"
    lab.assert_files(files)
    files.update(lab.write_files("fourth", 30, seed=14))
    lab.assert_files(files)
    archives = os.listdir(lab.node("a").data + "-archive")
    assert archives, "a's diverged master files must have been archived, not deleted"

    for name in nodes.names:
        assert nodes.act(name, "stop").code == 0
        assert nodes.monitor(name) == 7
        assert nodes.score(name) is None


def held_promote_with_the_chunkserver_away(nodes: Instances, lab) -> tuple[dict, int]:
    """One node promoted with a client and files, then demoted and promoted again while
    the chunkserver is frozen, so that the promote's helper waits (its 10-s bound);
    returns the files and the frozen chunkserver's PID (the caller thaws it)."""
    assert nodes.act("a", "start").code == 0
    assert nodes.promote("a", ("a",)).code == 0
    lab.start_chunkserver()
    lab.wait_chunkserver_registered()
    lab.mount()
    files = lab.write_files("held", 20, seed=21)
    chunkserver = lab.chunkserver_pid()
    os.kill(chunkserver, signal.SIGSTOP)
    assert nodes.act("a", "demote").code == 0
    assert nodes.promote("a", ("a",), first_monitor=False).code == 0
    assert not serving("127.0.0.1", CL_PORT), "clients must be held off"
    return files, chunkserver


def test_the_monitor_lets_clients_in_when_the_promotes_helper_died(public_tmp, lab):
    nodes = Instances(lab, public_tmp)
    files, chunkserver = {}, 0
    try:
        files, chunkserver = held_promote_with_the_chunkserver_away(nodes, lab)
        helper = int(nodes.local_state("a").read()["hold_helper"])
        os.kill(helper, signal.SIGKILL)
        wait_until(lambda: not process_alive(helper), 5, what="the helper to die")
        outcome = call("monitor", nodes.env("a"), interval_ms=10000)
        assert outcome.code == 8, outcome
        assert "did not let clients in; the monitor did" in outcome.stderr, outcome
        assert "%d not back" % CSSERV_PORT in outcome.stderr, outcome
        assert serving("127.0.0.1", CL_PORT)
        assert nodes.records("a")["last_hold_outcome"] == "monitor_let_in"
    finally:
        if chunkserver:
            os.kill(chunkserver, signal.SIGCONT)
    lab.assert_files(files)
    assert "client hold" not in call("monitor", nodes.env("a"), interval_ms=10000).stderr


def test_the_helper_leaves_a_master_that_died_alone(public_tmp, lab):
    nodes = Instances(lab, public_tmp)
    chunkserver = 0
    try:
        _, chunkserver = held_promote_with_the_chunkserver_away(nodes, lab)
        helper = int(nodes.local_state("a").read()["hold_helper"])
        os.kill(lab.node("a").master_pid(), signal.SIGKILL)
        wait_until(lambda: not process_alive(helper), 5, what="the helper to give up")
        held = nodes.local_state("a").read()
        assert held["hold_note"].startswith("clients not let in: mfsmaster"), held
        assert held["hold_outcome"] == "master_gone", held
        assert not serving("127.0.0.1", CL_PORT)
        assert not os.path.islink(nodes.client_hold_copy("a")), "the copy was opened"
        assert nodes.monitor("a", promoted=True) == 9
    finally:
        if chunkserver:
            os.kill(chunkserver, signal.SIGCONT)


def test_a_config_the_working_user_cannot_read_lets_clients_in_at_once(public_tmp, lab):
    """The master re-reads mfsmaster.cfg as WORKING_USER when the hold ends: a file
    only root can read would leave it held, so the promote does not hold clients."""
    nodes = Instances(lab, public_tmp)
    os.chmod(lab.node("a").master_cfg, 0o600)
    assert nodes.act("a", "start").code == 0
    nodes.pre_promote("a", ("a",))
    promoted = nodes.act("a", "promote")
    assert promoted.code == 0, promoted
    assert "clients are let in at once after this promote" in promoted.stderr, promoted
    assert "not readable by WORKING_USER mfs" in promoted.stderr, promoted
    assert serving("127.0.0.1", CL_PORT)
    assert not os.path.lexists(nodes.client_hold_copy("a"))
    assert nodes.monitor("a", promoted=True) == 8


def test_stop_of_promoted_instance_saves_metadata_and_records_high_water_mark(public_tmp, lab):
    nodes = Instances(lab, public_tmp)
    assert nodes.act("a", "start").code == 0
    assert nodes.promote("a", ("a",)).code == 0
    assert subprocess.run(["mfscli", "-H", "127.0.0.1", "-P", str(CL_PORT), "-SIN"],
                          capture_output=True, timeout=20).returncode == 0
    assert nodes.act("a", "stop").code == 0
    assert not lab.node("a").master_pid()
    assert os.path.exists(os.path.join(lab.node("a").data, "metadata.mfs"))
    hwm = nodes.fake.state().get("config:" + HWM)
    assert hwm and int(hwm.split(":")[0]) >= 1


def test_an_idle_4x_cluster_writes_nothing_to_the_cluster(public_tmp, lab4):
    """An idle MooseFS 4 master logs IDLE() every 30 s; no monitor may turn that into a
    CIB write (high-water mark) or an attribute update (freshness)."""
    nodes = Instances(lab4, public_tmp)
    for name in ("a", "b"):
        assert nodes.act(name, "start").code == 0
    assert nodes.promote("a", ("a", "b")).code == 0
    wait_until(lambda: version_of(lab4, "b") == version_of(lab4, "a"), 30, step=0.3,
               what="b to follow a")
    for name, promoted in (("a", True), ("b", False)):
        assert nodes.monitor(name, promoted=promoted) == (8 if promoted else 0)
    calls_before = len(nodes.fake.calls())
    version_before = version_of(lab4, "a")
    until = time.monotonic() + 75
    while time.monotonic() < until:  # what 10 s monitors would do, compressed
        nodes.age_peer_cache("a", "hwm_checked_at")
        nodes.age_peer_cache("b")
        assert nodes.monitor("a", promoted=True) == 8 and nodes.monitor("b") == 0
        time.sleep(5)
    assert version_of(lab4, "a") >= version_before + 2, "the master logged no IDLE() change"
    writes = [c for c in nodes.fake.calls()[calls_before:]
              if "--update" in c or "--delete" in c or " -v " in c]
    assert writes == [], writes
