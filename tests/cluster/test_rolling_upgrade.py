"""The guide's rolling MooseFS upgrade under the cluster, from Debian's 3.0.117 to the
4.59.2 build (scripts/moosefs4), node by node as the guide says: each Unpromoted node put
in standby, shut down cleanly and rebooted onto the new binaries, then online; a
switchover to an upgraded node; the old master's node the same way; then the chunkserver
and the client. Every file written under 3.0 is read back through the 3.0 client after
the master moved to 4.x, and through the 4.x client at the end; a sampler checks that
never two nodes run mfsmaster."""
from __future__ import annotations

import json

import pytest

from lab import scenarios as sc
from lab.harness import DATA_PATH, Cluster, wait_for
from failover.mark import CHANGE_TOLERANCE
from tests.cluster.test_cluster import pytestmark  # noqa: F401  (same requirements)
from tests.moosefs_versions import installed_prefix


@pytest.fixture
def cluster():
    prefix = installed_prefix()  # skips, saying why, without a MooseFS 4 build
    with sc.watched(Cluster(prefix="mfshr", net="10.99.8")) as cluster:
        cluster.new_moosefs = prefix
        yield cluster


def moosefs_version(cluster: Cluster, node: str) -> str:
    return cluster.nx(node, ["mfsmaster", "-v"]).stdout.strip()


def caught_up(cluster: Cluster, node: str) -> bool:
    """`mfsha status` shows `node` promotable with lag none (the guide's wait)."""
    rows = json.loads(cluster.nx(node, ["mfsha", "status", "--json"]).stdout)["nodes"]
    row = next(r for r in rows if r["node"] == node)
    return bool(row["promotable"]) and row["lag_changes"] is not None and \
        row["lag_changes"] <= CHANGE_TOLERANCE


def switchover(cluster: Cluster, target: str) -> None:
    wait_for(lambda: caught_up(cluster, target), 90, 1, "%s to catch up" % target)
    cluster.nx(target, ["mfsha", "switchover", target], timeout=180)
    assert sc.settle(cluster) == target


def upgrade_node(cluster: Cluster, node: str) -> None:
    """Standby, a clean shutdown, a reboot onto the new binaries, online (step 1)."""
    cluster.nx(node, ["crm", "node", "standby", node])
    wait_for(lambda: node not in (cluster.roles(sc.CLONE) or {node: "unknown"}), 120, 0.5,
             "%s's instance to stop" % node)
    cluster.stop_node(node)
    # A node back before the others saw it leave made the DC fence two nodes (seen
    # once); a real reboot takes longer than that.
    other = next(n for n in cluster.nodes if n != node)
    wait_for(lambda: node not in cluster.nx(other, ["crm_node", "-p"]).stdout.split(), 60,
             0.5, "%s to leave the membership" % node)
    cluster.use_moosefs(node, cluster.new_moosefs)
    cluster.power_on(node)
    assert "version: 4." in moosefs_version(cluster, node)
    wait_for(cluster.formed, 120, 0.5, "%s to rejoin" % node)
    bring_online(cluster, node, other)
    sc.settle(cluster, 180)


def in_standby(cluster: Cluster, node: str, viewer: str) -> bool | None:
    """Whether `viewer` sees `node` in standby (None: it cannot tell yet)."""
    status = cluster.status(viewer)
    entry = next((n for n in status.iter("node") if n.get("name") == node), None) \
        if status is not None else None
    return None if entry is None else entry.get("standby") == "true"


def bring_online(cluster: Cluster, node: str, other: str) -> None:
    """`crm node online`, issued on a node that stayed in the cluster, until both that
    node and the rebooted one see it. The rebooted node's own view alone proves nothing:
    before the DC's CIB reaches it, it shows no standby (seen: the node stayed in
    standby); and a change made there before it joined is lost when that CIB arrives."""
    def online() -> bool:
        views = [in_standby(cluster, node, viewer) for viewer in (other, node)]
        if views == [False, False]:
            return True
        if views[0] is not False:
            cluster.nx(other, ["crm", "node", "online", node], check=False)
        return False
    wait_for(online, 60, 2, "%s to leave standby" % node)


def upgrade_client(cluster: Cluster, client: sc.Client) -> None:
    """Step 3: the chunkserver and the client, stopped cleanly and started on 4.x."""
    node = cluster.client
    cluster.nx(node, ["fusermount3", "-u", "/run/mfsmnt"], timeout=60)
    cluster.nx(node, ["mfschunkserver", "-c", "/etc/mfs/mfschunkserver.cfg", "stop"], timeout=90)
    cluster.crash(node)
    cluster.use_moosefs(node, cluster.new_moosefs)
    cluster.boot(node)
    client.start()


def full_image_on_metaloggers(cluster: Cluster, master: str) -> bool:
    """Every metalogger holds a complete image, not the 8-byte new-file-system marker
    (MooseFS 4 refuses to replay 3.x changes onto that marker: moosefs.generation)."""
    for node in cluster.nodes:
        if node != master:
            text = cluster.nx(node, ["mfsha", "inspect", DATA_PATH]).stdout
            if "image metadata_ml.mfs.back: MFSM 2.0" not in text:
                return False
    return True


def test_rolling_upgrade_from_3_0_to_4_keeps_every_file(cluster):
    client = cluster.client_helper
    master = sc.settle(cluster)
    assert "version: 3.0." in moosefs_version(cluster, master)
    client.write("under-3.0", 60)
    # The first promote started this young file system from a complete image, which the
    # metaloggers downloaded: the guide's check before the switchover holds at once.
    wait_for(lambda: full_image_on_metaloggers(cluster, master), 30, 1,
             "a complete image on every metalogger")
    for node in [n for n in cluster.nodes if n != master]:
        upgrade_node(cluster, node)
        assert sc.settle(cluster) == master
        assert client.verify() == []
    target = next(n for n in cluster.nodes if n != master)
    switchover(cluster, target)
    assert "version: 4." in moosefs_version(cluster, target)
    assert client.verify() == []  # 3.0 chunkserver and client, 4.x master
    client.write("4.x-master-3.0-client", 30)
    upgrade_node(cluster, master)
    assert sc.settle(cluster) == target
    upgrade_client(cluster, client)
    assert client.verify() == []
    client.write("all-4.x", 30)
    assert client.verify() == []
    assert all("version: 4." in moosefs_version(cluster, n) for n in cluster.nodes)
    assert [v for v in cluster.sampler.violations if v[1] == "mfsmaster"] == []
