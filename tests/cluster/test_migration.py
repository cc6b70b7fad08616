"""The guide's "Moving a running MooseFS master under the cluster", step by step, in the
namespace cluster: a master that runs outside Pacemaker on node1 with metaloggers on the
other nodes and a client writing files, stopped in a maintenance window; its version
recorded as the high-water mark with the command the guide gives; then the configuration
of crm-examples/ loaded. A node holding the recorded version must be promoted: node1 with
its own files, or a metalogger that received every change (they rank equally, and CI saw
both), and every file must be intact through the client."""
from __future__ import annotations

import re

import pytest

from lab import scenarios as sc
from lab.harness import DATA_PATH, Cluster, wait_for
from tests.cluster.test_cluster import pytestmark  # noqa: F401  (same requirements)

MASTER_CFG = "/etc/mfs/mfsmaster.cfg"
LOGGER_CFG = "/etc/mfs/mfsmetalogger.cfg"


@pytest.fixture
def cluster():
    cluster = Cluster(prefix="mfshm", net="10.99.6")
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()
    assert cluster.leftovers() == []


def inspected(cluster: Cluster, node: str) -> tuple[int, str]:
    """(version, metadata id) as `mfsha inspect DIR --last-master-here` prints them."""
    text = cluster.nx(node, ["mfsha", "inspect", DATA_PATH, "--last-master-here"]).stdout
    version = re.search(r"^version: (\d+)$", text, re.M)
    metaid = re.search(r"^metadata id: ([0-9A-F]+)$", text, re.M)
    assert version and metaid, text
    return int(version.group(1)), metaid.group(1)


def test_a_running_master_moves_under_the_cluster(cluster):
    first, others = cluster.nodes[0], cluster.nodes[1:]
    # Before: a plain MooseFS site. The master's service address is the future VIP.
    cluster.nx(first, ["ip", "addr", "add", cluster.vip + "/24", "dev", "eth0"])
    cluster.nx(first, ["sh", "-c", "printf 'MFSM NEW' > %s/metadata.mfs && chown mfs:mfs "
                       "%s/metadata.mfs && mfsmaster -c %s start" % (DATA_PATH, DATA_PATH,
                                                                      MASTER_CFG)])
    for node in others:
        cluster.nx(node, ["mfsmetalogger", "-c", LOGGER_CFG, "start"])
    client = sc.Client(cluster)
    client.start()
    client.write("before-migration", 60)
    wait_for(lambda: all(inspected(cluster, n)[0] > 1 for n in others), 60, 1,
             "the metaloggers to hold metadata")
    # Maintenance window: stop the master cleanly, then the metaloggers; free the address.
    cluster.nx(first, ["mfsmaster", "-c", MASTER_CFG, "stop"], timeout=60)
    for node in others:
        cluster.nx(node, ["mfsmetalogger", "-c", LOGGER_CFG, "stop"], timeout=60)
    cluster.nx(first, ["ip", "addr", "del", cluster.vip + "/24", "dev", "eth0"])
    version, metaid = inspected(cluster, first)
    cluster.nx(first, ["crm_attribute", "--type", "crm_config", "--name", "mfsha-mfs-hwm",
                       "--update", "%d:%s:%s" % (version, metaid, first)])
    with sc.Sampler(cluster) as sampler:
        sc.configure_crm(cluster)
        promoted = sc.settle(cluster)
        assert promoted in cluster.nodes
        status = cluster.nx(promoted, ["mfsha", "status"]).stdout
        assert str(version) in status, status
        assert client.verify() == []
        client.write("after-migration", 30)
        assert client.verify() == []
    assert sampler.violations == [], sampler.violations
