"""Agent instances run as Pacemaker would, one per node of a loopback lab
(tests.mfslab), against a fake cluster store (tests.fakecluster)."""
from __future__ import annotations

import os
import time

from moosefs.daemons import serving
from ocf.state import StateFile
from tests.agentlib import agent_env, call, install, notify_env
from tests.fakecluster import FakeCluster
from tests.mfslab import CL_PORT, Lab, wait_until
from mfsha import store


def installed_agent(public_tmp: str) -> str:
    return install(os.path.join(public_tmp, "destdir"))


class Instances:
    """Three agent instances (nodes a, b, c) sharing a file-backed fake cluster."""

    def __init__(self, lab: Lab, public_tmp: str) -> None:
        self.lab = lab
        self.fake = FakeCluster(os.path.join(public_tmp, "cluster"))
        self.public_tmp = public_tmp
        self.names = ("a", "b", "c")
        for name in self.names:
            lab.node(name)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        return agent_env(os.path.join(self.public_tmp, "run-" + name), name, self.fake,
                         self.lab.node(name), OCF_RESKEY_allow_new_filesystem="true", **extra)

    def act(self, name: str, action: str, **extra: str):
        interval = {"monitor": 11000}.get(action)
        return call(action, self.env(name, **extra), interval_ms=interval)

    def monitor(self, name: str, promoted: bool = False) -> int:
        return call("monitor", self.env(name), interval_ms=10000 if promoted else 11000).code

    def pre_promote(self, target: str, unpromoted) -> None:
        lists = notify_env("pre", "promote", promote=target, unpromoted=" ".join(unpromoted))
        for name in unpromoted:
            assert self.act(name, "notify", **lists).code == 0

    def promote(self, target: str, unpromoted, first_monitor: bool = True):
        """Pre-promote notifications, promote, and (as Pacemaker does right after a
        promote) the first Promoted monitor, which lets clients in."""
        self.pre_promote(target, unpromoted)
        outcome = self.act(target, "promote")
        if outcome.code == 0 and first_monitor:
            wait_until(lambda: serving("127.0.0.1", CL_PORT), 15, step=0.05,
                       what="the promote's helper to let clients in")
            first = call("monitor", self.env(target), interval_ms=10000)
            assert first.code == 8, first
        return outcome

    def client_hold_copy(self, name: str) -> str:
        return os.path.join(self.public_tmp, "run-" + name, "mfsha-p_mfs-mfsmaster.cfg")

    def local_state(self, name: str) -> StateFile:
        return StateFile(os.path.join(self.public_tmp, "run-" + name), "mfsha-p_mfs.state")

    def records(self, name: str) -> dict[str, str]:
        """What the agent of `name` kept for mfsha metrics (mfsha.records)."""
        from mfsha.records import records
        return records("p_mfs", {"HA_RSCTMP": os.path.join(self.public_tmp, "run-" + name)}
                       ).read()

    def monitor_until_logged(self, name: str, text: str, seconds: float = 10):
        """Promoted monitors until one logs `text` (the promote's helper writes its
        outcome just after it lets clients in); returns that monitor's outcome."""
        until = time.monotonic() + seconds
        while True:
            outcome = call("monitor", self.env(name), interval_ms=10000)
            assert outcome.code == 8, outcome
            if text in outcome.stderr or time.monotonic() > until:
                return outcome
            time.sleep(0.1)

    def age_peer_cache(self, name: str, key: str = "peers_at") -> None:
        """Make the next monitor of `name` re-read its peers, as it does every 30 s (or,
        with key="hwm_checked_at", look at the master's version, as it does every 60 s)."""
        self.local_state(name).update(**{key: "0"})

    def wait_following(self, follower: str, leader: str, seconds: float = 60) -> None:
        """Until `follower`'s metalogger files reach `leader`'s master's version, running
        the follower's Unpromoted monitor each turn, as Pacemaker does every 11 s: the
        monitor restarts a metalogger whose files have a hole (a 4.x metalogger that
        connected after the new master's first changes misses them)."""
        seen = {}

        def caught_up() -> bool:
            self.monitor(follower)
            seen.update({n: version_of(self.lab, n) for n in (follower, leader)})
            return seen[follower] == seen[leader]
        try:
            wait_until(caught_up, seconds, step=0.5, what="%s to follow %s" % (follower, leader))
        except TimeoutError as error:
            raise TimeoutError("%s; versions at the end: %s" % (error, seen)) from None

    def score(self, name: str):
        return self.fake.score("p_mfs", name)

    def freshness(self, name: str):
        return self.fake.private(store.freshness_attribute("p_mfs"), name)


def version_of(lab, name):
    return lab.node(name).version()
