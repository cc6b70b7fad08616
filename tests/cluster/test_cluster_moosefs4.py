"""The namespace cluster with MooseFS 4 (the build of scripts/moosefs4) on Debian 12's
Pacemaker: bootstrap, an idle master that causes no CIB change for 5 minutes although
its version keeps rising (IDLE() every 30 s), and a crash failover with every file
checked through a 4.x client. Debian 13 nodes (MooseFS 4.57 from Debian) are another
issue's work."""
from __future__ import annotations

import os
import re
import time

import pytest

from lab import scenarios as sc
from lab.harness import Cluster, wait_for
from tests.cluster.test_cluster import pytestmark  # noqa: F401  (same requirements)
from tests.moosefs_versions import installed_prefix

# The figure; MFSHA_IDLE_SECONDS shortens it for a quick run by hand.
# Idle long enough for two of the Promoted monitor's looks at the version
# (HWM_REFRESH_SECONDS), five re-rankings of each standby and five IDLE() changes.
IDLE_SECONDS = float(os.environ.get("MFSHA_IDLE_SECONDS", "150"))


@pytest.fixture(scope="module")
def cluster():
    with sc.watched(Cluster(prefix="mfsh4", net="10.99.4", moosefs_prefix=installed_prefix())) as cluster:
        yield cluster


def cib_epoch(cluster: Cluster) -> tuple[int, int]:
    head = cluster.nx(cluster.any_node(), ["cibadmin", "--query", "--local"]).stdout[:400]
    return tuple(int(re.search(r'\b%s="(\d+)"' % name, head).group(1))  # type: ignore
                 for name in ("admin_epoch", "epoch"))


def cluster_properties(cluster: Cluster) -> str:
    return cluster.nx(cluster.any_node(), ["cibadmin", "--query", "--local", "--scope",
                                           "crm_config"]).stdout


def high_water_mark(cluster: Cluster) -> int:
    found = re.search(r'name="mfsha-mfs-hwm" value="(\d+):', cluster_properties(cluster))
    return int(found.group(1)) if found else 0


def test_4x_master_runs_and_an_idle_cluster_keeps_its_cib_epoch(cluster):
    from mfsha.primary import HWM_REFRESH_SECONDS
    from failover.mark import CHANGE_TOLERANCE
    client = cluster.client_helper
    promoted = sc.settle(cluster)
    version = cluster.nx(promoted, ["mfsmaster", "-v"]).stdout
    assert "version: 4." in version, version
    client.write("before-idle", 40)
    assert client.verify() == []
    # The writes moved the version by far more than the tolerance: the Promoted monitor
    # records that once, within a minute. From then on the cluster is idle.
    wait_for(lambda: high_water_mark(cluster) >= sc.logged_version(cluster, promoted, True)
             - CHANGE_TOLERANCE, HWM_REFRESH_SECONDS + 30, 1, "the high-water mark to follow")
    time.sleep(12)  # the last monitors after the writes
    epoch, properties = cib_epoch(cluster), cluster_properties(cluster)
    started_version = sc.logged_version(cluster, promoted, True)
    time.sleep(IDLE_SECONDS)
    assert sc.healthy(cluster) == promoted
    moved = sc.logged_version(cluster, promoted, True) - started_version
    print("idle %.0f s: master version +%d (IDLE entries), CIB epoch %s -> %s"
          % (IDLE_SECONDS, moved, epoch, cib_epoch(cluster)))
    assert moved >= int(IDLE_SECONDS // 30) - 1, "the 4.x master logged no IDLE() changes"
    assert cib_epoch(cluster) == epoch, (properties, cluster_properties(cluster))


def test_4x_crash_failover_keeps_every_file(cluster):
    client = cluster.client_helper
    old = sc.settle(cluster)
    client.write("before-crash", 40)
    sc.replicated(cluster, old)
    timing = sc.timed_failover(cluster, client, lambda: cluster.crash(old), old)
    print("MooseFS 4: crash of %s -> %s: %s" % (old, timing.new_promoted, timing.row()))
    client.write("after-crash", 40)
    assert client.verify() == []
    sc.restore_node(cluster, old)
    sc.settle(cluster)
    assert client.verify() == []
    assert cluster.sampler.violations == [], cluster.sampler.violations
