"""A file-backed stand-in for Pacemaker's attribute tools (see fake_tool.py)."""
from __future__ import annotations

import json
import os

TOOLS = ("crm_attribute", "crm_master", "attrd_updater", "crm_node")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_tool.py")


class FakeCluster:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.bin = os.path.join(folder, "bin")
        os.makedirs(self.bin, exist_ok=True)
        os.chmod(SCRIPT, 0o755)
        for tool in TOOLS:
            link = os.path.join(self.bin, tool)
            if not os.path.lexists(link):
                os.symlink(SCRIPT, link)

    def environ(self, node: str, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"PATH": self.bin + ":" + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    "FAKE_CLUSTER_DIR": self.folder, "FAKE_NODE": node,
                    "OCF_RESKEY_CRM_meta_on_node": node})
        env.update(extra)
        return env

    def state(self) -> dict:
        path = os.path.join(self.folder, "state.json")
        return json.load(open(path)) if os.path.exists(path) else {}

    def calls(self) -> list[str]:
        path = os.path.join(self.folder, "calls.log")
        return open(path).read().splitlines() if os.path.exists(path) else []

    def score(self, resource: str, node: str):
        value = self.state().get("promotion:%s:%s" % (resource, node))
        return int(value) if value is not None else None

    def set_score(self, resource: str, node: str, score: int) -> None:
        state = self.state() or {"nodes": []}
        state["promotion:%s:%s" % (resource, node)] = str(score)
        json.dump(state, open(os.path.join(self.folder, "state.json"), "w"))

    def private(self, name: str, node: str):
        return self.state().get("attr:%s:%s" % (name, node))

    def set_property(self, name: str, value: str) -> None:
        state = self.state() or {"nodes": []}
        state["config:" + name] = value
        json.dump(state, open(os.path.join(self.folder, "state.json"), "w"))
