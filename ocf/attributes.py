"""Promotion scores and node attributes through Pacemaker's C tools.

Every call degrades to a logged warning when no cluster is reachable (ocf-tester,
an administrator running the agent by hand): the agent's own result never depends
on a cluster tool succeeding, except where the caller checks the returned value.
"""
from __future__ import annotations

import os

from .env import Environment
from .log import Logger
from .proc import Deadline, run

_PROMOTION_FEATURE_SET = (3, 10, 0)  # Pacemaker 2.1 added `crm_attribute --promotion`


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
            self.log.warning("cluster tool failed (no cluster running?): %s" % result.describe())
        return result

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

    def get_promotion_score(self, node: str | None = None) -> int | None:
        result = run(self._promotion_argv(node) + ["--query", "--quiet"],
                     self.deadline.sub(self.tool_timeout))
        return _int_or_none(result.stdout) if result.ok else None

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

    def query_private(self, name: str, node: str | None = None) -> str | None:
        argv = ["attrd_updater", "--query", "--name=" + name]
        if node:
            argv.append("--node=" + node)
        values = parse_query(run(argv, self.deadline.sub(self.tool_timeout)).stdout)
        return next(iter(values.values()), None)

    def query_private_all(self, name: str) -> dict[str, str]:
        """{node: value} for every node that has the attribute."""
        return query_all(name, self.deadline.sub(self.tool_timeout))


    # -- cluster-wide persistent properties (crm_config) ------------------------
    def get_property(self, name: str) -> str | None:
        result = run(["crm_attribute", "--type=crm_config", "--name=" + name, "--query",
                      "--quiet"], self.deadline.sub(self.tool_timeout))
        value = result.stdout.strip()
        return value if result.ok and value else None

    def set_property(self, name: str, value: str) -> bool:
        return self._run(["crm_attribute", "--type=crm_config", "--name=" + name,
                          "--update=" + value]).ok

    # -- membership ----------------------------------------------------------------
    def partition_nodes(self) -> list[str] | None:
        """Names of the nodes in our partition, or None when unknown."""
        result = run(["crm_node", "--partition"], self.deadline.sub(self.tool_timeout))
        return result.stdout.split() if result.ok else None


def query_all(name: str, deadline: Deadline) -> dict[str, str]:
    """{node: value} of a transient attribute (private or public) on every node."""
    # attrd_updater (2.1.5) takes OCF_RESKEY_CRM_meta_on_node, which Pacemaker sets
    # for every agent, as the node to query even with --all: drop it.
    environ = {k: v for k, v in os.environ.items() if k != "OCF_RESKEY_CRM_meta_on_node"}
    result = run(["attrd_updater", "--query", "--all", "--name=" + name], deadline,
                 env=environ)
    return parse_query(result.stdout) if result.ok else {}


def parse_query(text: str) -> dict[str, str]:
    """{node: value} from attrd_updater --query, which prints: name="x" host="n1" value="42"."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        fields = dict(_key_value(word) for word in _split_quoted(line))
        if "host" in fields and fields.get("value", "") != "":
            values[fields["host"]] = fields["value"]
    return values


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if text.upper() in ("INFINITY", "+INFINITY"):
        return 1000000
    if text.upper() == "-INFINITY":
        return -1000000
    try:
        return int(text)
    except ValueError:
        return None


def _split_quoted(line: str) -> list[str]:
    words, current, quoted = [], [], False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        words.append("".join(current))
    return words


def _key_value(word: str) -> tuple[str, str]:
    key, _, value = word.partition("=")
    return key, value.strip('"')
