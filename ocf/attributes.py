"""Promotion scores and node attributes through Pacemaker's C tools.

Writes return whether they succeeded; the caller decides what a failure means.
Reads tell "absent" (None or nothing) from "could not ask" (ClusterUnreachable), by
one rule (`cluster_expected`): a tool that fails while Pacemaker called the agent,
or while a cluster runs on this node, is "could not ask". Only where no cluster
runs (ocf-tester, an administrator trying the agent by hand) does a failed read
count as "absent", with a warning.
"""
from __future__ import annotations

import os

from .codes import NO_SUCH, ClusterUnreachable  # noqa: F401 (raised here, defined where cheap)
from .env import Environment
from .log import Logger
from .proc import Deadline, run

_PROMOTION_FEATURE_SET = (3, 10, 0)  # Pacemaker 2.1 added `crm_attribute --promotion`
# Names of the CIB manager's IPC endpoints (libqb), listed in /proc/net/unix while
# Pacemaker runs in this network namespace.
_CIB_ENDPOINTS = (b"@cib_ro", b"@cib_rw", b"@cib_shm")
_CIB_DAEMONS = ("pacemaker-based", "pacemakerd", "cib")


def cluster_expected(env: Environment) -> bool:
    """Is a failed cluster tool a failure ("could not ask"), rather than the sign that
    no cluster runs here? Yes when Pacemaker is the caller (it passes
    OCF_RESKEY_crm_feature_set to every action) or when Pacemaker's CIB manager runs
    on this node."""
    return bool(env.reskey("crm_feature_set")) or cib_runs_here()


def cib_runs_here() -> bool:
    try:
        with open("/proc/net/unix", "rb") as stream:
            table = stream.read()
        return any(name in table for name in _CIB_ENDPOINTS)
    except OSError:
        pass
    for entry in os.listdir("/proc"):  # no /proc/net here: look for the daemons
        if entry.isdigit():
            try:
                with open("/proc/%s/comm" % entry) as stream:
                    if stream.read().strip() in _CIB_DAEMONS:
                        return True
            except OSError:
                continue
    return False


class Cluster:
    def __init__(self, env: Environment, log: Logger, deadline: Deadline,
                 tool_timeout: float = 10.0) -> None:
        self.env = env
        self.log = log
        self.deadline = deadline
        self.tool_timeout = tool_timeout

    def _run(self, argv: list[str]):
        result = run(argv, self.deadline.sub(self.tool_timeout))
        if not result.ok:
            self.log.warning("cluster tool failed: %s" % result.describe())
        return result

    def _read(self, argv: list[str], env: dict[str, str] | None = None):
        """Run a query. Returns its result when it answered (found or NO_SUCH); raises
        ClusterUnreachable when it failed where a cluster is expected; otherwise (no
        cluster here) returns None after a warning."""
        result = run(argv, self.deadline.sub(self.tool_timeout), env=env)
        if result.ok or (result.returncode == NO_SUCH and not result.timed_out):
            return result
        if self.expected():
            raise ClusterUnreachable(result.describe())
        self.log.warning("cluster tool failed, no cluster runs here: %s" % result.describe())
        return None

    def expected(self) -> bool:
        """Does a failed call mean a failure here (see cluster_expected)?"""
        return cluster_expected(self.env)

    # -- promotion score -------------------------------------------------------
    def _promotion_argv(self, node: str | None) -> list[str]:
        feature_set = self.env.feature_set
        if not feature_set or feature_set >= _PROMOTION_FEATURE_SET:
            argv = ["crm_attribute", "--promotion=" + self.env.resource_name, "--lifetime=reboot"]
        else:
            argv = ["crm_master", "-l", "reboot"]
        if node:
            argv.append("--node=" + node)
        return argv

    def set_promotion_score(self, score: int, node: str | None = None) -> bool:
        return self._run(self._promotion_argv(node) + ["--update=%d" % score]).ok

    def delete_promotion_score(self, node: str | None = None) -> bool:
        return self._run(self._promotion_argv(node) + ["--delete"]).ok

    # -- private transient node attributes (pacemaker-attrd, never in the CIB) --
    def set_private(self, name: str, value: str) -> bool:
        return self._run(["attrd_updater", "--private", "--lifetime=reboot",
                          "--name=" + name, "--update=" + value]).ok

    def delete_attribute(self, name: str) -> bool:
        """Remove a transient node attribute of this node, private or public."""
        return self._run(["attrd_updater", "--name=" + name, "--delete"]).ok

    # -- public transient node attributes (in the CIB status; crm_mon -A shows them) --
    def set_public(self, name: str, value: str) -> bool:
        return self._run(["attrd_updater", "--lifetime=reboot", "--name=" + name,
                          "--update=" + value]).ok

    def query_private_all(self, name: str) -> dict[str, str]:
        """{node: value} for every node that has the attribute; ClusterUnreachable when
        the cluster could not be asked."""
        result = self._read(query_all_argv(name), env=query_all_environ())
        return parse_query(result.stdout) if result is not None and result.ok else {}

    # -- cluster-wide persistent properties (crm_config) ------------------------
    def get_property(self, name: str) -> str | None:
        """The property's value, None when it is not set; ClusterUnreachable when the
        cluster could not be asked."""
        result = self._read(property_query_argv(name))
        value = result.stdout.strip() if result is not None and result.ok else ""
        return value or None

    def set_property(self, name: str, value: str) -> bool:
        return self._run(["crm_attribute", "--type=crm_config", "--name=" + name,
                          "--update=" + value]).ok

    # -- membership ----------------------------------------------------------------
    def partition_nodes(self) -> list[str] | None:
        """Names of the nodes in our partition; None when no cluster runs here;
        ClusterUnreachable when one does but could not be asked."""
        result = self._read(["crm_node", "--partition"])
        return result.stdout.split() if result is not None and result.ok else None


def property_query_argv(name: str) -> list[str]:
    """The query of a cluster-wide property (crm_config): its value alone on stdout."""
    return ["crm_attribute", "--type=crm_config", "--name=" + name, "--query", "--quiet"]


def query_all_argv(name: str) -> list[str]:
    return ["attrd_updater", "--query", "--all", "--name=" + name, "--output-as=xml"]


def query_all_environ() -> dict[str, str]:
    # attrd_updater (2.1.5) takes OCF_RESKEY_CRM_meta_on_node, which Pacemaker sets
    # for every agent, as the node to query even with --all: drop it.
    return {k: v for k, v in os.environ.items() if k != "OCF_RESKEY_CRM_meta_on_node"}


def query_all(name: str, deadline: Deadline) -> dict[str, str]:
    """{node: value} of a transient attribute (private or public) on every node; empty
    when it could not be asked (for reports, never for a safety rule)."""
    result = run(query_all_argv(name), deadline, env=query_all_environ())
    return parse_query(result.stdout) if result.ok else {}


def parse_query(text: str) -> dict[str, str]:
    """{node: value} from `attrd_updater --query --output-as=xml`, which prints one
    <attribute name="x" value="42" host="n1"/> per node inside <pacemaker-result>.
    expat, not ElementTree: the monitor imports this, and ElementTree pulls in `re`."""
    from xml.parsers import expat
    values: dict[str, str] = {}

    def element(tag: str, attributes: dict[str, str]) -> None:
        if tag == "attribute" and attributes.get("host") and attributes.get("value", ""):
            values[attributes["host"]] = attributes["value"]

    parser = expat.ParserCreate()
    parser.StartElementHandler = element
    try:
        parser.Parse(text, True)
    except expat.ExpatError:
        return {}
    return values
