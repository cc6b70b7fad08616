"""mfsha-ucarp with real ucarp on 3 nodes of the namespace lab (no corosync, no
Pacemaker), configured as ucarp-examples/ ships it, with a chunkserver and an mfsmount
client: start-up, a crash with a stale node that wins CARP and must step aside, the down
hook, and a refused restore that hands the address on. Every file's checksum is checked
through the client, and a sampler checks all along that never two nodes run mfsmaster.

Skews: node1 10, node3 100, node2 200, so node1 wins the first election and, with node1
gone, node3 wins CARP before node2: node3 is the node made stale or broken."""
from __future__ import annotations

import os
import shutil

import pytest

from lab import scenarios as sc
from lab.harness import DATA_PATH, Cluster, wait_for
from lab.ucarp import UcarpSite
from tests.cluster.test_cluster import pytestmark as cluster_marks

pytestmark = cluster_marks + [pytest.mark.skipif(shutil.which("ucarp") is None,
                                                 reason="needs ucarp (Debian package ucarp)")]
SKEWS = {"node1": 10, "node2": 200, "node3": 100}


@pytest.fixture(scope="module")
def lab():
    cluster = Cluster(prefix="mfshu", net="10.99.7")
    try:
        cluster.up(cluster_stack=False)
        cluster.site = UcarpSite(cluster, SKEWS)
        cluster.client_helper = sc.Client(cluster)
        with sc.Sampler(cluster) as sampler:
            cluster.sampler = sampler
            yield cluster
    finally:
        cluster.down()
    assert [v for v in sampler.violations if v[1] == "mfsmaster"] == []
    assert cluster.leftovers() == []


def metalogger_runs(cluster: Cluster, node: str) -> bool:
    return bool(cluster.daemon_pids(node, "mfsmetalogger"))


def test_start_up_elects_one_master(lab):
    for node in lab.nodes:
        lab.site.start(node)
    master = lab.site.settle()
    assert master == "node1"  # the lowest skew wins the first election
    client = lab.client_helper
    client.start()
    client.write("start", 40)
    assert client.verify() == []
    for node in ("node2", "node3"):
        assert metalogger_runs(lab, node)
    assert lab.masters() == ["node1"] and lab.vip_holders() == ["node1"]


def test_crash_moves_the_master_to_the_freshest_and_a_stale_winner_steps_aside(lab):
    client = lab.client_helper
    lab.nx("node3", ["mfsmetalogger", "-c", "/etc/mfs/mfsmetalogger.cfg", "stop"])
    client.write("while-node3-is-stale", 30)
    sc.replicated(lab, "node1", ["node2"])
    assert sc.logged_version(lab, "node3", False) < sc.logged_version(lab, "node2", False)
    lab.crash("node1")
    assert lab.site.settle(90) == "node2"
    assert "node %s holds fresher metadata" % lab.ip("node2") in lab.site.log("node3")
    assert client.verify() == []
    client.write("after-crash", 20)
    assert client.verify() == []
    wait_for(lambda: metalogger_runs(lab, "node3"), 30, 0.2, "node3's metalogger back")


def test_down_hook_leaves_no_address_and_no_master(lab):
    client = lab.client_helper
    lab.boot("node1")
    lab.site.start("node1")
    wait_for(lambda: metalogger_runs(lab, "node1"), 30, 0.2, "node1's metalogger")
    sc.replicated(lab, "node2", ["node1", "node3"], timeout=60)
    lab.site.stop_ucarp("node2")  # SIGTERM: --shutdown runs the down hook
    assert "node2" not in lab.masters() and "node2" not in lab.vip_holders()
    assert metalogger_runs(lab, "node2")
    assert lab.site.settle(90) == "node1"
    assert client.verify() == []
    client.write("after-down-hook", 20)
    assert client.verify() == []
    lab.site.start("node2")  # back as a backup for the next test
    sc.replicated(lab, "node1", ["node2"], timeout=60)


def test_a_refused_restore_hands_the_address_on(lab):
    client = lab.client_helper
    # node3's disk loses its metadata: the metalogger's image is cut in half and its
    # changelogs are gone (kept aside here), so nothing there restores.
    lab.nx("node3", ["mfsmetalogger", "-c", "/etc/mfs/mfsmetalogger.cfg", "stop"])
    data = lab.path_in("node3", DATA_PATH)
    aside = os.path.join(lab.node_dir("node3"), "changelogs-aside")
    os.makedirs(aside, exist_ok=True)
    for name in os.listdir(data):
        if name.startswith("changelog"):
            shutil.move(os.path.join(data, name), aside)
    image = os.path.join(data, "metadata_ml.mfs.back")
    os.truncate(image, os.path.getsize(image) // 2)
    client.write("before-refusal", 20)
    sc.replicated(lab, "node1", ["node2"])
    lab.crash("node1")
    assert lab.site.settle(90) == "node2"
    log = lab.site.log("node3")
    assert "not becoming the master: metadata in %s cannot be restored" % DATA_PATH in log, log
    assert "asking ucarp" in log
    assert "node3" not in lab.vip_holders() and "node3" not in lab.masters()
    assert client.verify() == []


POISONED = ["mfsha-ucarp version=0 metaid=0 role=none mark=999999999",
            "mfsha-ucarp version=0 metaid=0 role=master mark=0",
            "mfsha-ucarp/2 version=0 metaid=0 role=master mark=999999999 nonce=x tag=00",
            ""]  # accepts and never answers


def test_a_fake_responder_and_a_wrong_secret_move_no_mark(lab):
    """node3's responder is replaced by a listener of an unprivileged user answering
    poisoned lines, node1 has another secret: when the master's node crashes, node1
    (CARP's next winner) counts both peers as silent, says so, and becomes the master
    with its own files; no node's mark takes the poisoned values."""
    client = lab.client_helper
    site = lab.site
    if not lab.pid1("node1"):
        lab.boot("node1")
        site.start("node1")
    old = site.settle(90)
    assert old == "node2", old
    wait_for(lambda: all(metalogger_runs(lab, n) for n in ("node1", "node3")), 60, 0.2,
             "the metaloggers of node1 and node3")
    client.write("before-poison", 30)
    sc.replicated(lab, old, ["node1", "node3"], timeout=60)
    site.stop_responder("node3")
    site.fake_responder("node3", POISONED)
    site.write_secret("node1", "another-secret-that-no-peer-has")
    site.stop_responder("node1")
    site.start_responder("node1")
    try:
        lab.crash(old)
        assert site.settle(90) == "node1"
        log = site.log("node1")
        assert "peer %s counts as silent: an answer without a valid tag" % lab.ip("node3") \
            in log, log[-3000:]
        reached = sc.logged_version(lab, "node1", True)
        assert all(site.mark(n) <= reached for n in ("node1", "node3")), \
            {n: site.mark(n) for n in lab.nodes}
        assert client.verify() == []
        client.write("after-poison", 20)
        assert client.verify() == []
    finally:
        site.stop_responder("node3")
        site.start_responder("node3")
        from lab.ucarp import SECRET
        site.write_secret("node1", SECRET)
        site.stop_responder("node1")
        site.start_responder("node1")
