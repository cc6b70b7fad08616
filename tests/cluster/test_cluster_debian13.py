"""The namespace cluster on Debian 13 nodes: Pacemaker 3.0, corosync 3.1 and MooseFS
4.57 from Debian's packages (the root of scripts/debian13-root, built once and cached),
the agent installed inside each node with `make install`, configured with
crm-examples/mfsmaster.crm as it ships. The same scenarios as on Debian 12 (the same
test functions): bootstrap, planned switchover (move and standby), node crash and
freshest-wins, each checking every file through the 4.x client, with the sampler that
never may see two masters. Skipped, with one line why, when the root cannot be built."""
from __future__ import annotations

import os

import pytest

from lab import scenarios as sc
from lab.harness import ROOT, Cluster
from tests.cluster.conftest import skip_without_debian13
from tests.cluster.test_cluster import pytestmark  # noqa: F401  (same requirements)
# Collected here as well, in this order (pytest keeps the order of the module's names).
from tests.cluster.test_cluster import (  # noqa: F401, E402
    test_bootstrap_creates_the_file_system_once_and_promotes_one_node)
from tests.cluster.test_cluster import test_planned_switchover_with_move_and_standby  # noqa
from tests.cluster.test_cluster import (  # noqa: F401, E402
    test_node_crash_is_fenced_and_the_freshest_metalogger_promoted)
from tests.cluster.test_cluster import test_freshest_metalogger_wins_over_a_stale_one  # noqa


@pytest.fixture(scope="module")
def cluster():
    skip_without_debian13()
    with sc.watched(Cluster(prefix="mfsh13", net="10.99.13", platform="debian13")) as cluster:
        yield cluster


def test_nodes_run_debian_13_with_pacemaker_3_and_moosefs_4(cluster):
    node = sc.settle(cluster)
    assert cluster.nx(node, ["cat", "/etc/debian_version"]).stdout.startswith("13")
    assert "Pacemaker 3." in cluster.nx(node, ["pacemakerd", "--version"]).stdout
    assert "version: 4." in cluster.nx(node, ["mfsmaster", "-v"]).stdout
    assert "version: 4." in cluster.nx(cluster.client, ["mfsmount", "--version"],
                                       check=False).stdout + \
        cluster.nx(cluster.client, ["mfsmount", "--version"], check=False).stderr


def load_offline(cluster: Cluster, node: str, example: str):
    """`crm configure load update` of a shipped example into an empty CIB file in the
    node, as the Debian 12 test loads it (tests/test_examples.py): no fence device."""
    from tests.packaging.tools import EMPTY_CIB
    with open(cluster.path_in(node, "/tmp/offline-cib.xml"), "w") as stream:
        stream.write(EMPTY_CIB)
    text = open(os.path.join(ROOT, "crm-examples", example)).read()
    with open(cluster.path_in(node, "/tmp/example.crm"), "w") as stream:
        stream.write(text.replace("stonith-enabled=true", "stonith-enabled=false"))
    return cluster.nx(node, ["crm", "configure", "load", "update", "/tmp/example.crm"],
                      env={"CIB_file": "/tmp/offline-cib.xml"}, check=False, timeout=120)


def test_legacy_example_is_refused_by_pacemaker_3(cluster):
    """crm-examples/mfsmaster-legacy.crm (an `ms` resource, Master/Slave) is for
    Pacemaker before 2.1; Pacemaker 3.0 removed both, and its file says so. The current
    example, loaded the same way, is accepted."""
    node = cluster.any_node()
    legacy = os.path.join(ROOT, "crm-examples", "mfsmaster-legacy.crm")
    assert "not loadable on Pacemaker 3" in open(legacy).read()
    current = load_offline(cluster, node, "mfsmaster.crm")
    assert current.returncode == 0, current.stdout + current.stderr
    refused = load_offline(cluster, node, "mfsmaster-legacy.crm")
    said = refused.stdout + refused.stderr
    print("legacy example on Pacemaker 3.0: exit %d, %s" % (
        refused.returncode, said.strip().splitlines()[-1:]))
    assert refused.returncode != 0 and "Configuration invalid" in said
