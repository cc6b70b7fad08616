"""Running the agent as Pacemaker would: a process with OCF_* variables."""
from __future__ import annotations

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, "heartbeat", "mfsmaster")
CLONE_META = {"OCF_RESKEY_CRM_meta_clone_max": "3", "OCF_RESKEY_CRM_meta_promotable": "true",
              "OCF_RESKEY_CRM_meta_notify": "true", "OCF_RESKEY_CRM_meta_promoted_max": "1",
              "OCF_RESKEY_CRM_meta_clone_node_max": "1",
              "OCF_RESKEY_crm_feature_set": "3.16.2"}


def agent_env(rsctmp: str, node: str, fake=None, lab_node=None, **extra: str) -> dict[str, str]:
    """The one environment of an agent instance on `node`, as Pacemaker gives it: its
    HA_RSCTMP, the cluster tools (a tests.fakecluster.FakeCluster's when given) and, for
    a node of a loopback lab (tests.mfslab), its config files and the clone's meta
    attributes. `extra` overrides any of it."""
    env = fake.environ(node) if fake is not None else dict(os.environ)
    env.update(OCF_RESKEY_CRM_meta_on_node=node, HA_RSCTMP=rsctmp)
    if lab_node is not None:
        env.update(OCF_RESKEY_master_cfg=lab_node.master_cfg,
                   OCF_RESKEY_metalogger_cfg=lab_node.metalogger_cfg, **CLONE_META)
    env.update(extra)
    return env


class Outcome:
    def __init__(self, done: subprocess.CompletedProcess) -> None:
        self.code = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr

    @property
    def reason(self) -> str:
        for line in self.stderr.splitlines():
            if line.startswith("ocf-exit-reason:"):
                return line[len("ocf-exit-reason:"):]
        return ""

    def __repr__(self) -> str:
        return "Outcome(%d, %r)" % (self.code, self.reason or self.stderr[-300:])


def call(action: str, environ: dict[str, str], timeout_ms: int = 60000,
         interval_ms: int | None = None, agent: str = AGENT) -> Outcome:
    env = dict(environ)
    env.setdefault("OCF_ROOT", "/usr/lib/ocf")
    env.setdefault("OCF_RESOURCE_INSTANCE", "p_mfs:0")
    env["OCF_RESKEY_CRM_meta_timeout"] = str(timeout_ms)
    if interval_ms is not None:
        env["OCF_RESKEY_CRM_meta_interval"] = str(interval_ms)
    else:
        env.pop("OCF_RESKEY_CRM_meta_interval", None)
    done = subprocess.run([agent, action], env=env, capture_output=True, text=True,
                          timeout=timeout_ms / 1000 + 30)
    return Outcome(done)


def notify_env(kind: str, operation: str, **lists: str) -> dict[str, str]:
    env = {"OCF_RESKEY_CRM_meta_notify_type": kind,
           "OCF_RESKEY_CRM_meta_notify_operation": operation}
    for name, value in lists.items():
        env["OCF_RESKEY_CRM_meta_notify_%s_uname" % name] = value
    return env


def install(destdir: str) -> str:
    """`make install DESTDIR=destdir`; returns the installed agent's path."""
    subprocess.run(["make", "-s", "-C", ROOT, "install", "DESTDIR=" + destdir], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(destdir, "usr/lib/ocf/resource.d/mfsha/mfsmaster")


def as_if_installed(argv: list[str], destdir: str) -> list[str]:
    """`argv` run in a private mount namespace where the DESTDIR install lies over the
    system's /usr/lib/ocf (a read-only overlay): tools that look for agents only there
    (crmsh, crm_resource) find it, and nothing on this machine changes."""
    ocf = os.path.join(destdir, "usr/lib/ocf")
    script = ('mount -t overlay mfsha-test -o "lowerdir=%s:/usr/lib/ocf" /usr/lib/ocf '
              '&& exec "$@"' % ocf)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"] + argv


def imported_modules(argv: list[str], env: dict[str, str]) -> set[str]:
    """Top-level modules a whole agent process imports (from python's -X importtime)."""
    done = subprocess.run(["/usr/bin/python3", "-IS", "-X", "importtime"] + argv,
                          capture_output=True, text=True, env=env)
    return {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}
