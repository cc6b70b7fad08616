"""From the package alone: fresh Debian 13 nodes (Pacemaker 3.0, MooseFS 4.57 from Debian,
no source tree visible inside), the .deb installed with dpkg, configured by the shell
block of the installed guide's "First start" section, run as written but for the
virtual IP. Then what an administrator does next with the installed files: mfsha as a
haclient member, mfsha metrics through promtool, the installed pcs example against
pcs 0.12, a switchover with every file intact, and the sampler that never saw two
masters. Skipped, with one line why, without the Debian 13 root."""
from __future__ import annotations

import re

import pytest

from lab import scenarios as sc
from lab.harness import ROOT, Cluster
from tests.cluster.conftest import skip_without_debian13
from tests.packaging.tools import EMPTY_CIB, build_deb, promtool, promtool_says
from tests.cluster.test_cluster import pytestmark  # noqa: F401  (same requirements)

DOC = "/usr/share/doc/resource-agents-mfsha"


def first_start_block(guide: str) -> str:
    """The shell block of the guide's "First start" section."""
    section = guide.split("#### First start of a new cluster")[1].split("\n#### ")[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "no ```sh block in the guide's First start section"
    return "\n".join(line.strip() for line in block.group(1).splitlines())


def follow_the_guide(cluster: Cluster) -> None:
    """Fencing first (the guide's step 1; the lab's test device), then the guide's
    block from the installed guide, with the lab's virtual IP."""
    node = cluster.any_node()
    cluster.crm(sc.fencing_crm(cluster), node)
    guide = cluster.nx(node, ["zcat", DOC + "/guide.md.gz"]).stdout
    block = first_start_block(guide)
    block, count = re.subn(r"(?m)^VIP=\S+", "VIP=%s" % cluster.vip, block)
    assert count == 1, block
    cluster.guide_block = block
    cluster.nx(node, ["sh", "-ec", block], timeout=180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    skip_without_debian13()
    package = build_deb(str(tmp_path_factory.mktemp("deb")))
    lab = Cluster(prefix="mfshdeb", net="10.99.31", platform="debian13", package=package)
    with sc.watched(lab, configure=follow_the_guide) as cluster:
        yield cluster


def test_the_node_has_the_package_and_nothing_else_of_the_project(cluster):
    node = sc.settle(cluster)
    assert cluster.nx(node, ["cat", "/etc/debian_version"]).stdout.startswith("13")
    status = cluster.nx(node, ["dpkg-query", "-W", "-f=${Status}", "resource-agents-mfsha"])
    assert status.stdout == "install ok installed"
    assert cluster.nx(node, ["test", "-e", ROOT], check=False).returncode != 0
    assert cluster.nx(node, ["mfsha", "--version"]).stdout.startswith("mfsha ")
    for page in ("man7/ocf_mfsha_mfsmaster.7.gz", "man8/mfsha.8.gz"):
        cluster.nx(node, ["test", "-s", "/usr/share/man/" + page])
    assert "crm configure load update /root/mfsmaster.crm" in cluster.guide_block


def test_the_guides_first_start_makes_one_master_and_metaloggers(cluster, client):
    promoted = sc.settle(cluster)
    client.write("deb", 60)
    roles = cluster.roles()
    assert sorted(roles.values()) == ["Promoted", "Unpromoted", "Unpromoted"], roles
    shown = cluster.nx(promoted, ["crm_mon", "-1", "-A"]).stdout
    assert "mfsha-mfs-lag-changes" in shown and "mfsha-mfs-promotable" in shown
    assert client.verify() == []


def test_mfsha_reads_as_a_haclient_member_and_metrics_pass_promtool(cluster, tmp_path):
    import json
    from lab.harness import wait_for
    node = sc.settle(cluster)
    as_hacluster = ["setpriv", "--reuid=hacluster", "--regid=haclient", "--init-groups"]

    def rows():
        return json.loads(cluster.nx(node, as_hacluster + ["mfsha", "status", "--json"])
                          .stdout)["nodes"]
    assert sorted(row["role"] for row in rows()) == ["Promoted", "Unpromoted", "Unpromoted"]
    # The metaloggers are promotable once they hold the master's metadata.
    wait_for(lambda: all(row["promotable"] for row in rows()), 90, 2,
             "both standbys promotable in mfsha status")
    switch = cluster.nx(node, as_hacluster + ["mfsha", "switchover"], check=False)
    assert switch.returncode == 1 and "run as root" in switch.stderr
    metrics = cluster.nx(node, as_hacluster + ["mfsha", "metrics"]).stdout
    assert 'mfsha_up{resource="mfs"} 1' in metrics
    assert re.search(r'(?m)^mfsha_promotable_standbys\{resource="mfs"\} 2$', metrics), metrics
    checker = promtool()
    if checker:
        assert promtool_says(checker, ["check", "metrics"], metrics) == ""


PCS_SHIM = """#!/bin/sh
# `pcs cluster cib F` and `pcs cluster cib-push F --config` on an empty CIB file, so that
# the example builds a configuration of its own beside the running one.
case "$1 $2" in
  "cluster cib") cp /tmp/empty-cib.xml "$3" ;;
  "cluster cib-push") cp "$3" /tmp/pushed-cib.xml ;;
  *) exec /usr/sbin/pcs "$@" ;;
esac
"""


def test_the_installed_pcs_example_builds_a_valid_configuration_with_pcs_012(cluster):
    node = sc.settle(cluster)
    assert cluster.nx(node, ["pcs", "--version"]).stdout.startswith("0.12")
    cluster.nx(node, ["sh", "-c", "cat > /tmp/empty-cib.xml"], input=EMPTY_CIB)
    cluster.nx(node, ["sh", "-c", "mkdir -p /tmp/shim && cat > /tmp/shim/pcs && "
                      "chmod 755 /tmp/shim/pcs"], input=PCS_SHIM)
    done = cluster.nx(node, ["sh", "-c", "PATH=/tmp/shim:$PATH VIP=%s sh %s/examples/crm/"
                             "mfsmaster.pcs" % (cluster.vip, DOC)], timeout=180)
    assert "Deprecation" not in done.stdout + done.stderr, done.stdout + done.stderr
    # Offline there is no fence device (the live one is the lab's): verify without it.
    pushed = cluster.nx(node, ["cat", "/tmp/pushed-cib.xml"]).stdout
    assert 'name="stonith-enabled" value="true"' in pushed
    cluster.nx(node, ["sh", "-c", "cat > /tmp/verify-cib.xml"], input=pushed.replace(
        'name="stonith-enabled" value="true"', 'name="stonith-enabled" value="false"'))
    verified = cluster.nx(node, ["crm_verify", "-V", "--xml-file", "/tmp/verify-cib.xml"],
                          check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    import xml.etree.ElementTree as ElementTree
    clone = ElementTree.fromstring(pushed).find(".//clone[@id='mfs-clone']")
    options = {n.get("name"): n.get("value") for n in clone.findall("meta_attributes/nvpair")}
    assert {"promotable": "true", "notify": "true", "promoted-max": "1",
            "clone-node-max": "1"}.items() <= options.items(), options
    assert clone.find("primitive/meta_attributes") is None  # nothing landed on the primitive


def test_a_switchover_with_the_installed_command_keeps_every_file(cluster, client):
    old = sc.settle(cluster)
    client.write("before-switch", 40)
    sc.replicated(cluster, old)
    target = [n for n in cluster.nodes if n != old][0]
    done = cluster.nx(old, ["mfsha", "switchover", target, "--timeout", "150", "--json"],
                      timeout=200)
    import json
    assert json.loads(done.stdout)["to"] == target
    assert sc.settle(cluster) == target
    client.write("after-switch", 20)
    assert client.verify() == []
    assert cluster.sampler.violations == []
