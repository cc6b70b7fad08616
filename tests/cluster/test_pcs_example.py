"""The pcs example, loaded into a fresh 3-node cluster: bootstrap and a switchover."""
from __future__ import annotations

import pytest

from lab import scenarios as sc
from lab.harness import Cluster
from tests.cluster.test_cluster import pytestmark  # noqa: F401 (same requirements)


def test_pcs_example_bootstraps_and_switches_over():
    cluster = Cluster(prefix="mfshap")
    try:
        client, configured = sc.bring_up(cluster, "pcs")
        print("healthy %.1f s after the pcs example" % configured)
        with sc.Sampler(cluster) as sampler:
            client.write("pcs", 40)
            old = sc.settle(cluster)
            target = [n for n in cluster.nodes if n != old][-1]
            timing = sc.timed_failover(cluster, client, lambda: sc.switchover(cluster, target),
                                       old)
            assert timing.new_promoted == target
            sc.clear_moves(cluster)
            client.write("pcs-after", 20)
            sc.settle(cluster)
            assert client.verify() == []
        assert sampler.violations == []
    finally:
        cluster.down()
    assert cluster.leftovers() == []


if __name__ == "__main__":
    pytest.main([__file__])
