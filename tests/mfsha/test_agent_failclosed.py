"""ocf:mfsha:mfsmaster fails closed on faults that are not clean, with real MooseFS
daemons and the file-backed fake cluster: a hung master, a standby that stops keeping
up, a master the agent did not promote, and a cluster that does not record a promote."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from lab.scenarios import stopped
from moosefs.daemons import serving
from tests.agentlib import call
from tests.mfslab import CL_PORT, wait_until
from tests.mfsha.instances import Instances, version_of
from mfsha import store

HWM_NAME = store.hwm_property("p_mfs")
HWM = "config:" + HWM_NAME  # its key in the fake cluster's state


def mark_version(nodes: Instances) -> int:
    text = nodes.fake.state().get(HWM)
    return int(text.split(":")[0]) if text else 0


def promoted_with_files(nodes: Instances, lab, peers=("a",)) -> dict:
    for name in peers:
        assert nodes.act(name, "start").code == 0
    assert nodes.promote("a", peers).code == 0
    lab.start_chunkserver()
    lab.wait_chunkserver_registered()
    lab.mount()
    return lab.write_files("first", 30, seed=31)


def master_processes(lab, name: str) -> list[int]:
    from moosefs.daemons import _group_members
    pid = lab.node(name).master_pid()
    return [pid] + _group_members(pid)


def test_a_stopped_master_fails_the_promoted_monitor_and_is_recovered(public_tmp, lab):
    nodes = Instances(lab, public_tmp)
    files = promoted_with_files(nodes, lab)
    with stopped(master_processes(lab, "a")):
        assert serving("127.0.0.1", CL_PORT), "a stopped master's socket still accepts"
        outcome = call("monitor", nodes.env("a"), interval_ms=3000)
        assert outcome.code == 9, outcome
        assert "holds its lock but did not answer within" in outcome.reason, outcome
        # Pacemaker's recovery of a failed Promoted instance: demote, then promote.
        demoted = nodes.act("a", "demote")
        assert demoted.code == 0, demoted
        assert not lab.node("a").master_pid()
    assert nodes.promote("a", ("a",)).code == 0
    lab.assert_files(files)


def test_the_mark_follows_the_master_while_no_standby_keeps_up(public_tmp, lab):
    nodes = Instances(lab, public_tmp)
    files = promoted_with_files(nodes, lab, peers=("a", "b"))
    nodes.wait_following("b", "a")
    assert nodes.monitor("a", promoted=True) == 8
    # Every standby keeps up: changes cause no write of the mark.
    files.update(lab.write_files("kept-up", 20, seed=32))
    before = mark_version(nodes)
    assert nodes.monitor("a", promoted=True) == 8
    assert mark_version(nodes) == before
    # b's metalogger goes silent: the next Promoted monitor covers every change.
    os.kill(lab.node("b").metalogger_pid(), signal.SIGKILL)
    files.update(lab.write_files("not-on-b", 40, seed=33))
    time.sleep(1.1)  # mfsmaster writes its changelog once a second
    master_version = version_of(lab, "a")
    outcome = call("monitor", nodes.env("a"), interval_ms=3000)
    assert outcome.code == 8, outcome
    assert "0 of 1 metalogger streams keep up" in outcome.stderr, outcome
    assert mark_version(nodes) >= master_version > version_of(lab, "b")
    lab.assert_files(files)


def test_a_master_the_agent_did_not_promote_never_lowers_the_mark(public_tmp, lab):
    nodes = Instances(lab, public_tmp)
    promoted_with_files(nodes, lab)
    node = lab.node("a")
    # The node reboots (its local state is gone) and someone starts mfsmaster by hand
    # from its old files, while the cluster's master went further meanwhile.
    assert subprocess.run(["mfsmaster", "-c", node.master_cfg, "stop"],
                          capture_output=True, timeout=60).returncode == 0
    shutil.rmtree(os.path.join(public_tmp, "run-a"))
    assert subprocess.run(["mfsmaster", "-c", node.master_cfg, "start"],
                          capture_output=True, timeout=60).returncode == 0
    mark = nodes.fake.state()[HWM].split(":")
    higher = "%d:%s:z:" % (int(mark[0]) + 1000, mark[1])
    nodes.fake.set_property(HWM_NAME, higher)
    probe = call("monitor", nodes.env("a"), interval_ms=0)
    assert probe.code == 8, probe
    outcome = call("monitor", nodes.env("a"), interval_ms=3000)
    assert outcome.code == 9 and "was not promoted by this agent" in outcome.reason, outcome
    assert nodes.act("a", "demote").code == 0
    assert nodes.fake.state()[HWM] == higher
    assert not node.master_pid()


@pytest.mark.parametrize("how", ["FAKE_FAIL", "FAKE_HANG"])
def test_a_promote_the_cluster_does_not_record_stops_its_master(public_tmp, lab, how):
    nodes = Instances(lab, public_tmp)
    assert nodes.act("a", "start").code == 0
    nodes.pre_promote("a", ("a",))
    outcome = nodes.act("a", "promote", **{how: "--name=%s --update" % HWM_NAME})
    assert outcome.code == 1, outcome
    assert "the cluster did not record this promotion" in outcome.reason, outcome
    assert not lab.node("a").master_pid() and lab.node("a").metalogger_pid()
    assert HWM not in nodes.fake.state()


def test_a_stream_the_peer_does_not_read_shows_as_stalled():
    """The kernel's view that the mark's rule reads: a metalogger that stops reading
    closes its receive window, and the master's bytes wait unacknowledged."""
    from moosefs.followers import streams
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    reader = socket.create_connection(("127.0.0.1", port))
    sender, _ = listener.accept()
    try:
        assert [s.stalled for s in streams(port)] == [False]
        sender.setblocking(False)
        chunk = b"x" * 65536
        try:
            for _ in range(2000):
                sender.send(chunk)
        except BlockingIOError:
            pass
        wait_until(lambda: any(s.stalled for s in streams(port)), 10, step=0.1,
                   what="the zero-window probe")
        stalled = streams(port)[0]
        assert stalled.unacked > 0 and stalled.peer == "127.0.0.1:%d" % reader.getsockname()[1]
        # the fallback reading (/proc/net/tcp) tells the same
        from moosefs.followers import _proc_streams
        assert [(s.peer, s.stalled) for s in _proc_streams(port)] == [(stalled.peer, True)]
    finally:
        for sock in (reader, sender, listener):
            sock.close()


def test_a_hole_inside_a_standbys_changelog_costs_no_second_failover(public_tmp, lab):
    """After the master dies, b's current changelog has a hole inside it (its first and
    last lines intact, as a MooseFS 4.57 metalogger left one): b publishes nothing
    promotable, c ranks first, and c's promote succeeds with every file."""
    nodes = Instances(lab, public_tmp)
    for name in nodes.names:
        assert nodes.act(name, "start").code == 0
    assert nodes.promote("a", nodes.names).code == 0
    lab.start_chunkserver()
    lab.wait_chunkserver_registered()
    lab.mount()
    files = lab.write_files("before-hole", 60, seed=41)
    wait_until(lambda: all(version_of(lab, n) == version_of(lab, "a") for n in ("b", "c")),
               30, step=0.3, what="b and c to catch up")
    os.kill(lab.node("a").master_pid(), signal.SIGKILL)
    wait_until(lambda: not lab.node("a").master_pid(), 10, what="master a to die")
    log = os.path.join(lab.node("b").data, "changelog_ml.0.mfs")
    lines = open(log, "rb").read().splitlines(keepends=True)
    assert len(lines) > 20, "needs a changelog with lines to cut from its middle"
    with open(log + ".new", "wb") as stream:
        stream.write(b"".join(lines[:5] + lines[15:]))
    shutil.copystat(log, log + ".new")
    os.chown(log + ".new", os.stat(log).st_uid, os.stat(log).st_gid)
    os.replace(log + ".new", log)
    for name in ("b", "c"):
        nodes.age_peer_cache(name)
        assert nodes.monitor(name) == 0
        nodes.age_peer_cache(name)
        assert nodes.monitor(name) == 0
    assert nodes.freshness("b").startswith("0:"), nodes.freshness("b")
    assert nodes.score("b") is None and nodes.score("c") == 1000
    promoted = nodes.promote("c", ("b", "c"))
    assert promoted.code == 0, promoted
    lab.assert_files(files)
