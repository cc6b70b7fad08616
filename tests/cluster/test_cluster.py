"""A real 3-node corosync + Pacemaker cluster (namespaces on this machine) running
ocf:mfsha:mfsmaster as configured by crm-examples/, with fencing, a chunkserver and an
mfsmount client. Every scenario checks every file's checksum through the client, and a
sampler checks all along that never two nodes run mfsmaster or hold the virtual IP."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time

import pytest

from lab import scenarios as sc
from lab.harness import DATA_PATH, Cluster, wait_for

NEEDED = ("corosync", "pacemakerd", "crm", "pcs", "mfsmaster", "mfsmount", "unshare", "nsenter")
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in NEEDED),
                       reason="needs %s" % ", ".join(NEEDED)),
    pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/unified") and
                       not os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
                       reason="needs cgroup v2"),
]


@pytest.fixture(scope="module")
def cluster():
    with sc.watched(Cluster(prefix="mfshat")) as cluster:
        yield cluster


def check_everything(cluster, client) -> str:
    """The Promoted node, once the cluster is healthy with every file intact."""
    promoted = sc.settle(cluster)
    assert client.verify() == []
    assert cluster.sampler.violations == [], cluster.sampler.violations
    return promoted


def test_bootstrap_creates_the_file_system_once_and_promotes_one_node(cluster, client):
    promoted = sc.settle(cluster)
    assert cluster.masters() == [promoted]
    archives = [n for n in cluster.nodes
                if os.listdir(os.path.join(cluster.node_root(n), "var/lib/mfs"))
                != ["meta"]]
    client.write("bootstrap", 60)
    check_everything(cluster, client)
    images = [n for n in cluster.nodes
              if os.path.exists(os.path.join(cluster.node_root(n), "var/lib/mfs/meta/metadata.mfs.back"))]
    assert images == [promoted], "only the first master created metadata (%s)" % images
    assert archives == []
    # crm_mon -A shows each node's version, lag and whether it may be promoted.
    def shown():
        text = cluster.nx(promoted, ["crm_mon", "-1", "-A"]).stdout
        every = len(cluster.nodes)
        return text if text.count("mfsha-mfs-promotable") == every and \
            text.count("mfsha-mfs-lag-changes") == every else None
    attributes = wait_for(shown, 60, 2, "crm_mon -A to show every node's promotability")
    assert ": promoted" in attributes and "mfsha-mfs-version" in attributes
    # the lag in words and as a number (lag-changes), once per node each
    assert len(re.findall(r"mfsha-mfs-lag\s", attributes)) == len(cluster.nodes), attributes
    assert attributes.count("mfsha-mfs-lag-changes") == len(cluster.nodes), attributes


def test_crmsh_and_pcs_show_the_installed_agent(cluster):
    node = cluster.any_node()
    info = cluster.nx(node, ["crm", "ra", "info", "ocf:mfsha:mfsmaster"]).stdout
    assert "(ocf:mfsha:mfsmaster)" in info and "allow_new_filesystem" in info
    described = cluster.nx(node, ["pcs", "resource", "describe", "ocf:mfsha:mfsmaster"],
                           timeout=120).stdout
    assert "ocf:mfsha:mfsmaster" in described and "master_cfg" in described


def test_planned_switchover_with_move_and_standby(cluster, client):
    old = sc.settle(cluster)
    target = [n for n in cluster.nodes if n != old][0]
    timing = sc.timed_failover(cluster, client, lambda: sc.switchover(cluster, target), old)
    print("switchover %s -> %s: %s" % (old, timing.new_promoted, timing.row()))
    assert timing.new_promoted == target
    # The agent's step lines reach the Pacemaker log (through execd: no syslog, no file).
    promoted_log = cluster.log_tail(target, 4000)
    for words in ("step metalogger stop", "step restore: restored to version",
                  "step first accepted connection", "promoted: metadata restored to version"):
        assert words in promoted_log, words
    assert "step master stop: clean" in cluster.log_tail(old, 4000)
    sc.clear_moves(cluster)
    client.write("after-move", 40)
    promoted = check_everything(cluster, client)
    cluster.nx(cluster.any_node(), ["crm", "node", "standby", promoted])
    wait_for(lambda: (cluster.promoted(sc.CLONE) not in (None, promoted)
                      and cluster.vip_holders() == [cluster.promoted(sc.CLONE)]), 90, 0.5,
             "the Promoted role to leave the standby node")
    cluster.nx(cluster.any_node(), ["crm", "node", "online", promoted])
    client.write("after-standby", 40)
    check_everything(cluster, client)


def web_page(cluster, node: str) -> str | None:
    """The web monitor's master page through the virtual IP, fetched from `node`."""
    fetch = ("import urllib.request; print(urllib.request.urlopen("
             "'http://%s:9425/mfs.cgi', timeout=3).read().decode(errors='replace'))"
             % cluster.vip)
    done = cluster.nx(node, ["python3", "-c", fetch], check=False, timeout=20)
    return done.stdout if done.returncode == 0 else None


@pytest.mark.skipif(not os.path.exists("/usr/sbin/mfscgiserv"), reason="needs moosefs-cgiserv")
def test_web_monitor_example_follows_the_promoted_node(cluster, client):
    old = sc.settle(cluster)
    text = open(os.path.join(sc.ROOT, "crm-examples", "mfscgiserv.crm")).read()
    cluster.crm(text)
    try:
        def web_on(node):
            return cluster.running(node, "mfscgiserv") and web_page(cluster, node)
        page = wait_for(lambda: web_on(old), 60, 1, "the web monitor on %s" % old)
        assert cluster.vip in page and "metadata save" in page, page[:500]  # the master's row
        target = [n for n in cluster.nodes if n != old][0]
        sc.switchover(cluster, target)
        wait_for(lambda: sc.healthy(cluster) == target, 90, 0.5, "the switchover")
        wait_for(lambda: web_on(target), 60, 1, "the web monitor on %s" % target)
        assert not cluster.running(old, "mfscgiserv")
    finally:
        sc.clear_moves(cluster)
        node = cluster.any_node()
        cluster.nx(node, ["crm", "resource", "stop", "mfs-web"], check=False)
        wait_for(lambda: not any(cluster.running(n, "mfscgiserv") for n in cluster.nodes),
                 60, 0.5, "the web monitor to stop")
        cluster.nx(node, ["crm", "configure", "delete", "mfs-web"], check=False, timeout=60)
    check_everything(cluster, client)


def move_constraints(cluster) -> list[str]:
    constraints = cluster.nx(cluster.any_node(), ["cibadmin", "--query", "--scope",
                                                  "constraints"]).stdout
    return [line for line in constraints.splitlines() if "cli-prefer" in line or "cli-ban" in line]


def test_mfsha_switchover_keeps_every_file_and_leaves_no_constraint(cluster, client):
    old = sc.settle(cluster)
    client.write("before-mfsha-switchover", 30)
    time.sleep(12)  # a monitor round: the peers publish what they received
    # An administrator's own ban (the Promoted role, on the third node) outlives it.
    target, banned = [n for n in cluster.nodes if n != old]
    cluster.nx(old, ["crm_resource", "--ban", "--promoted", "--resource", "mfs-clone",
                     "--node", banned])
    done = cluster.nx(old, ["mfsha", "switchover", target], timeout=180)
    new = sc.settle(cluster)
    assert new == target and "switchover %s -> %s" % (old, new) in done.stdout, done.stdout
    print(done.stdout.strip())
    left = move_constraints(cluster)
    assert len(left) == 1 and "cli-ban-mfs-clone-on-%s" % banned in left[0], left
    assert cluster.daemon_pids(banned, "mfsmetalogger"), "the banned node keeps its metalogger"
    cluster.nx(old, ["crm_resource", "--clear", "--resource", "mfs-clone", "--node", banned])
    assert move_constraints(cluster) == []
    check_everything(cluster, client)
    # A target that lags is refused, and nothing is left behind. (Refused once its
    # published version shows the lag; before that its own promote refuses, and mfsha
    # reports that refusal.)
    stale = [n for n in cluster.nodes if n != new][0]
    with sc.held_back(cluster, stale):
        client.write("missed-by-target", 80)
        wait_for(lambda: "would not be promoted" in cluster.nx(new, ["mfsha", "why", stale])
                 .stdout, 60, 2, "the lag of %s to show" % stale)
        refused = cluster.nx(new, ["mfsha", "switchover", stale], check=False, timeout=60)
        assert refused.returncode == 1 and refused.stdout == ""
        assert len(refused.stderr.strip().splitlines()) == 1
        assert "may not be promoted" in refused.stderr or "lags" in refused.stderr, \
            refused.stderr
    assert sc.settle(cluster) == new and move_constraints(cluster) == []
    check_everything(cluster, client)


def test_kill_9_of_mfsmaster(cluster, client):
    old = sc.settle(cluster)
    client.write("before-kill", 40)
    sc.kill_master(cluster, old)
    wait_for(lambda: sc.healthy(cluster), 120, 0.5, "recovery after kill -9")
    client.write("after-kill", 40)
    check_everything(cluster, client)
    sc.cleanup(cluster)


def test_a_stopped_master_is_noticed_and_recovered(cluster, client):
    """SIGSTOP of every mfsmaster process on the Promoted node: it keeps its lock and
    its sockets; the Promoted monitor's question finds it, and Pacemaker recovers."""
    old = sc.settle(cluster)
    client.write("before-sigstop", 30)
    with sc.stopped(cluster.daemon_pids(old, "mfsmaster")) as frozen:
        wait_for(lambda: not set(frozen) & set(cluster.daemon_pids(old, "mfsmaster")), 60, 0.5,
                 "the stopped master to be noticed and stopped")
        sc.settle(cluster)
        assert "did not answer within" in cluster.log_tail(old, 4000)
    client.write("after-sigstop", 30)
    check_everything(cluster, client)
    sc.cleanup(cluster)


def test_a_crash_while_every_standby_lags_promotes_no_stale_node(cluster, client):
    """Every standby's metalogger falls behind (receive window closed), more files are
    written, and the master's node crashes seconds later: the mark followed the master,
    so no survivor serves; the old master wins when it returns, with every file."""
    old = sc.settle(cluster)
    client.write("before-lag", 20)
    sc.replicated(cluster, old)
    standbys = [n for n in cluster.nodes if n != old]
    with sc.lagging(cluster, standbys):
        client.write("only-on-the-master", 200)
        time.sleep(1.1)  # mfsmaster writes its changelog once a second
        reached = sc.logged_version(cluster, old, True)
        wait_for(lambda: hwm_version(cluster) >= reached, 20, 0.5,
                 "the mark to follow the master to %d" % reached)
        behind = {n: sc.logged_version(cluster, n, False) for n in standbys}
        assert all(version < reached for version in behind.values()), (behind, reached)
        cluster.crash(old)
        wait_for(lambda: "Operation 'reboot'" in "".join(
            cluster.log_tail(n, 4000) for n in standbys), 60, 1, "%s to be fenced" % old)
        time.sleep(20)  # the survivors try, and refuse
        assert cluster.masters() == [], "a survivor below the mark serves"
    sc.restore_node(cluster, old)
    assert sc.settle(cluster, timeout=240) == old
    sc.cleanup(cluster)
    check_everything(cluster, client)


def test_node_crash_is_fenced_and_the_freshest_metalogger_promoted(cluster, client):
    old = sc.settle(cluster)
    client.write("before-crash", 40)
    sc.replicated(cluster, old)
    timing = sc.timed_failover(cluster, client, lambda: cluster.crash(old), old)
    print("crash of %s -> %s: %s" % (old, timing.new_promoted, timing.row()))
    fence_log = "".join(cluster.log_tail(n, 4000) for n in cluster.nodes if n != old)
    assert "Operation 'reboot'" in fence_log and old in fence_log
    client.write("after-crash", 40)
    assert client.verify() == []
    sc.restore_node(cluster, old)
    check_everything(cluster, client)


def test_isolated_promoted_node_loses_quorum_and_majority_promotes(cluster, client):
    old = sc.settle(cluster)
    client.write("before-isolation", 30)
    timing = sc.timed_failover(cluster, client, lambda: cluster.isolate(old), old)
    print("isolation of %s -> %s: %s" % (old, timing.new_promoted, timing.row()))
    wait_for(lambda: not cluster.daemon_pids(old, "mfsmaster"), 60, 0.2,
             "the isolated node to stop its master (fenced)")
    cluster.isolate(old, down=False)
    if not cluster.pid1(old):
        sc.restore_node(cluster, old)
    client.write("after-isolation", 30)
    check_everything(cluster, client)


def promotion_score(cluster, node: str) -> int:
    done = cluster.nx(cluster.any_node(), ["crm_attribute", "--node", node, "--name",
                                           "master-mfs", "--lifetime", "reboot", "--query",
                                           "--quiet"], check=False)
    text = done.stdout.strip()
    return int(text) if text.lstrip("-").isdigit() else -1


def test_freshest_metalogger_wins_over_a_stale_one(cluster, client):
    old = sc.settle(cluster)
    stale, fresh = [n for n in cluster.nodes if n != old]
    with sc.held_back(cluster, stale):  # it misses the next changes
        client.write("missed-by-stale", 80)
        sc.replicated(cluster, old, [fresh])
        # The operator's view: the held-back node is not promotable, and says why.
        why = wait_for(lambda: (lambda out: out if "would not be promoted" in out else None)(
            cluster.nx(fresh, ["mfsha", "why", stale]).stdout), 40, 2,
            "mfsha why %s to refuse" % stale)
        assert "%s would not be promoted" % stale in why and ("fresher" in why
                                                              or "below the version" in why)
        status = cluster.nx(fresh, ["mfsha", "status"]).stdout
        assert all(node in status for node in cluster.nodes) and "high-water mark" in status
        # `why` judges published versions; the stale node lowers its own score at its
        # next monitor (up to 11 s later). Crashing before that let Pacemaker try it
        # first (seen once): a refused promote, then the fresh node.
        wait_for(lambda: promotion_score(cluster, stale) < promotion_score(cluster, fresh),
                 40, 1, "%s to rank below %s" % (stale, fresh))
        timing = sc.timed_failover(cluster, client, lambda: cluster.crash(old), old)
        print("crash with %s held back: %s promoted, %s" % (stale, timing.new_promoted,
                                                           timing.row()))
        assert timing.new_promoted == fresh
    assert client.verify() == []
    sc.restore_node(cluster, old)
    sc.cleanup(cluster)
    check_everything(cluster, client)


def hwm_version(cluster) -> int:
    done = cluster.nx(cluster.any_node(), ["crm_attribute", "--type", "crm_config", "--name",
                                           "mfsha-mfs-hwm", "--query", "--quiet"], check=False)
    return int(done.stdout.split(":")[0]) if done.stdout.strip() else 0


def archive_count(cluster, node: str) -> int:
    done = cluster.nx(node, ["mfsha", "archives", "--json"])
    return len(json.loads(done.stdout)["archives"])


def fail_count(cluster, node: str) -> int:
    done = cluster.nx(cluster.any_node(), ["crm_failcount", "--query", "--resource", "mfs",
                                           "--node", node], check=False)
    words = dict(w.split("=", 1) for w in done.stdout.split() if "=" in w)
    value = words.get("value", "0")
    return int(value) if value.isdigit() else (1000000 if "INFINITY" in value else 0)


def test_refused_promotes_never_cost_a_node_its_metalogger(cluster, client):
    """Three refused promotes on one node (a move there while the mark says every node
    is behind): with the examples' settings the node is not banned and keeps its
    metalogger; once the mark is true again the cluster promotes as before."""
    old = sc.settle(cluster)
    client.write("before-refusals", 20)
    target = [n for n in cluster.nodes if n != old][0]
    true_mark = cluster.nx(old, ["crm_attribute", "--type", "crm_config", "--name",
                                 "mfsha-mfs-hwm", "--query", "--quiet"]).stdout.strip()
    fields = true_mark.split(":")
    beyond = "%d:%s:nowhere:" % (int(fields[0]) + 100000, fields[1])
    try:
        cluster.nx(old, ["crm_attribute", "--type", "crm_config", "--name", "mfsha-mfs-hwm",
                         "--update", beyond])
        sc.switchover(cluster, target)
        wait_for(lambda: fail_count(cluster, target) >= 3, 240, 1,
                 "three refused promotes on %s" % target)
        time.sleep(5)  # what Pacemaker does after the third
        # Pacemaker keeps retrying the promote there (every 2 s or so), and each try
        # stops the metalogger for a moment: one sample can fall into that moment.
        wait_for(lambda: cluster.daemon_pids(target, "mfsmetalogger"), 15, 0.1,
                 "%s's metalogger between refused promotes" % target)
        assert "below the version" in cluster.log_tail(target, 4000)
    finally:
        sc.clear_moves(cluster)
        cluster.nx(old, ["crm_attribute", "--type", "crm_config", "--name", "mfsha-mfs-hwm",
                         "--update", true_mark])
    sc.cleanup(cluster)
    check_everything(cluster, client)
    assert cluster.daemon_pids(target, "mfsmetalogger") or cluster.promoted(sc.CLONE) == target


def test_allow_data_loss_procedure_when_the_freshest_node_is_lost(cluster, client):
    """The guide's procedure: the master dies with changes no survivor holds; nothing is
    promoted; allow_data_loss promotes the freshest survivor and is deleted at once; the
    old master's extra changes go to its archive when it comes back."""
    old = sc.settle(cluster)
    archived_before = archive_count(cluster, old)
    client.write("kept", 30)
    sc.replicated(cluster, old)
    survivors = [n for n in cluster.nodes if n != old]
    with sc.held_back(cluster, survivors[0]) as first, \
            sc.held_back(cluster, survivors[1]) as second:
        kept_version = max(sc.logged_version(cluster, n, False) for n in survivors)
        client.write("lost", 60)
        lost = [name for name in client.expected if name.startswith("lost/")]
        # the Promoted monitor raises the mark beyond what the survivors hold
        wait_for(lambda: hwm_version(cluster) > kept_version, 60, 1, "the mark to rise")
        lost_version = hwm_version(cluster)
        cluster.crash(old)
        for pid in first + second:  # what they had not read yet dies with them
            os.kill(pid, signal.SIGKILL)
    try:
        time.sleep(15)  # fencing, then a transition that promotes nobody
        roles = wait_for(lambda: cluster.roles(sc.CLONE), 30, 0.5, "crm_mon to answer")
        assert [n for n, r in roles.items() if r == "Promoted"] == []
        why = cluster.nx(survivors[0], ["mfsha", "why", survivors[0]]).stdout
        assert "below the version" in why, why
        cluster.nx(survivors[0], ["crm", "resource", "param", "mfs", "set", "allow_data_loss",
                                  "true"])
        new = wait_for(lambda: cluster.promoted(sc.CLONE), 90, 0.5, "a forced promote")
        assert new in survivors
        serving = lambda: cluster.vip_holders() == [new] and cluster.masters() == [new]  # noqa: E731
        wait_for(serving, 60, 0.5, "the virtual IP and the master on %s" % new)
        master_pid = cluster.daemon_pids(new, "mfsmaster")
    finally:
        cluster.nx(cluster.any_node(), ["crm", "resource", "param", "mfs", "delete",
                                        "allow_data_loss"], check=False)
    # Undoing the override reloads the parameters: the new master is not restarted.
    time.sleep(5)
    assert serving() and cluster.daemon_pids(new, "mfsmaster") == master_pid
    for name in lost:  # the loss the operator accepted
        del client.expected[name]
    assert client.verify() == []
    sc.restore_node(cluster, old)
    sc.cleanup(cluster)
    check_everything(cluster, client)
    # its lost changes are kept: its own master files, never replayed, or an archive
    assert sc.logged_version(cluster, old, True) >= lost_version or \
        archive_count(cluster, old) > archived_before


def plant_abandoned_branch(cluster, master: str, node: str, extra_changes: int) -> int:
    """Copy the master's own files into `node`'s data directory and continue them with
    changes the cluster never made: leftovers of an abandoned branch, above the cluster's
    version, with the fresh times of a hand copy. Returns the branch's version."""
    source = os.path.join(cluster.node_root(master), DATA_PATH.lstrip("/"))
    target = os.path.join(cluster.node_root(node), DATA_PATH.lstrip("/"))
    names = [n for n in os.listdir(source)
             if n.startswith("metadata.mfs") or n.startswith("changelog.")]
    for name in names:
        shutil.copy(os.path.join(source, name), os.path.join(target, name))
        shutil.chown(os.path.join(target, name), "mfs", "mfs")
    from moosefs.history import Known
    from moosefs.inspect import inspect
    version = inspect(target, known=Known(0, True)).version
    with open(os.path.join(target, "changelog.0.mfs"), "ab") as stream:
        for change in range(version, version + extra_changes):
            stream.write(b"%d: %d|ACCESS(1)\n" % (change, int(time.time())))
    return version + extra_changes


def test_leftovers_of_an_abandoned_branch_on_metaloggers_are_never_promoted(cluster, client):
    old = sc.settle(cluster)
    client.write("before-leftovers", 30)
    sc.replicated(cluster, old)
    branches = {n: plant_abandoned_branch(cluster, old, n, 3000)
                for n in cluster.nodes if n != old}
    timing = sc.timed_failover(cluster, client, lambda: cluster.crash(old), old)
    new = timing.new_promoted
    print("crash of %s with leftovers on %s -> %s: %s" % (old, sorted(branches), new,
                                                           timing.row()))
    assert client.verify() == []
    from moosefs.history import Known
    from moosefs.inspect import inspect
    served = inspect(os.path.join(cluster.node_root(new), DATA_PATH.lstrip("/")),
                     known=Known(0, True)).version
    assert served < branches[new], "the abandoned branch was promoted"
    assert "files set aside before the restore" in cluster.log_tail(new, 4000)
    sc.restore_node(cluster, old)
    client.write("after-leftovers", 20)
    check_everything(cluster, client)


def test_five_failovers_in_a_row_with_writes_between(cluster, client):
    seen = []
    for round_number in range(5):
        old = sc.settle(cluster)
        client.write("round%d" % round_number, 20)
        sc.replicated(cluster, old)
        timing = sc.timed_failover(cluster, client, lambda: cluster.crash(old), old)
        seen.append(timing.new_promoted)
        assert client.verify() == []
        sc.restore_node(cluster, old)
    print("promoted in turn: %s" % seen)
    assert len(set(seen)) >= 2
    check_everything(cluster, client)
    assert cluster.sampler.samples > 100
