"""What the cluster modules share: the `client` fixture (the client node's helper of a
module's `cluster`), the Debian 13 skip, and, for a failing cluster test, what tells a
product bug from a lab race without a rerun: crm_mon -1rfA and, for each node, the
agent's lines and the tail of its Pacemaker log."""
from __future__ import annotations

import pytest

from lab.harness import Cluster, PlatformUnavailable, system_root

AGENT_MARKS = ("mfsmaster(", "mfsha", "ocf-exit-reason")


@pytest.fixture
def client(cluster):
    """The client node's helper (lab.scenarios.Client) of the module's cluster."""
    return cluster.client_helper


def skip_without_debian13() -> None:
    """Skip, saying why, when the Debian 13 root cannot be had (scripts/debian13-root)."""
    try:
        system_root("debian13")
    except PlatformUnavailable as error:
        pytest.skip("no Debian 13 nodes: %s" % error)


def diagnostics(cluster: Cluster) -> str:
    parts = []
    try:
        done = cluster.nx(cluster.any_node(), ["crm_mon", "-1rfA"], timeout=20, check=False)
        parts.append("crm_mon -1rfA:\n" + done.stdout + done.stderr)
    except Exception as error:  # the cluster may be the thing that broke
        parts.append("crm_mon -1rfA: not available (%s)" % error)
    for node in cluster.nodes:
        tail = cluster.log_tail(node, 400)
        agent = [line for line in tail.splitlines() if any(m in line for m in AGENT_MARKS)]
        parts.append("%s: the agent's last lines:\n%s" % (node, "\n".join(agent[-40:])))
        parts.append("%s: Pacemaker log, last lines:\n%s" % (
            node, "\n".join(tail.splitlines()[-40:])))
    return "\n\n".join(parts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Cluster):
            report.sections.append(("cluster at failure", diagnostics(value)))
            break
