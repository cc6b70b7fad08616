"""The promote and step-down sequences of the core (failover.promote) with a stand-in
cluster and stand-in daemons: what refuses, in which order, and what each front-end's
Cluster is asked. The sequences with real daemons are in tests/mfsha and tests/cluster."""
from __future__ import annotations

import io

import pytest

from failover.election import Rules, Words
from failover.mark import Freshness
from failover.promote import CannotTell, Refused, promote, step_down
from ocf.log import Logger
from procrun import Deadline
from tests.synthetic import METAID, write_changelog, write_image

WORDS = Words("set LOSS", "set NEW", "record it")
STRICT = Rules(False, False, WORDS)


class Daemon:
    def __init__(self, running: bool) -> None:
        self.running = running
        self.calls: list[str] = []

    def pid(self) -> int:
        return 4242 if self.running else 0

    def stop(self, *args) -> bool:
        self.calls.append("stop")
        self.running = False
        return True

    def start(self, *args, **kwargs) -> None:
        self.calls.append("start")
        self.running = True


class Node:
    """What the sequences use of a moosefs.node.LocalNode."""

    def __init__(self, data_path: str, master: bool = False) -> None:
        self.data_path = data_path
        self.master = Daemon(master)
        self.metalogger = Daemon(not master)


class Cluster:
    me = "n1"

    def __init__(self, mark=None, peers=None, masters=(), mark_fails=False,
                 peers_fail=False) -> None:
        self.mark, self.peer_values, self.masters = mark, peers or {}, list(masters)
        self.mark_fails, self.peers_fail = mark_fails, peers_fail
        self.recorded: list[tuple[int, int]] = []

    def read_mark(self):
        if self.mark_fails:
            raise CannotTell("crm_attribute timed out")
        return self.mark

    def peers(self, own):
        if self.peers_fail:
            raise CannotTell("attrd_updater failed")
        return self.peer_values, self.masters

    def record_reached(self, version: int, metaid: int) -> None:
        self.recorded.append((version, metaid))

    def mark_for_metalogger(self):
        return self.mark


@pytest.fixture
def node(tmp_path):
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 100)
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"), range(100, 151))
    return Node(str(tmp_path))


def log() -> Logger:
    return Logger("t", "", {}, io.StringIO())


def attempt(node, cluster, rules=STRICT):
    return promote(node, cluster, rules, archiver=None, deadline=Deadline(30, reserve=0),
                   log=log())


def test_the_metalogger_stops_before_anything_is_read(node):
    """A clean stop flushes the metalogger's last lines: the mark and the files are read
    after it, never before."""
    seen = []

    class Watching(Cluster):
        def read_mark(self):
            seen.append(node.metalogger.running)
            return super().read_mark()
    with pytest.raises(Refused):
        attempt(node, Watching(mark_fails=True))
    assert node.metalogger.calls == ["stop"] and seen == [False]


@pytest.mark.parametrize("cluster, kind, words", [
    (Cluster(mark_fails=True), "mark_unknown",
     "could not read the cluster's high-water mark (crm_attribute"),
    (Cluster(peers_fail=True), "peers_unknown",
     "could not ask the cluster for its members' freshness"),
])
def test_a_cluster_that_cannot_be_asked_refuses(node, cluster, kind, words):
    with pytest.raises(Refused, match=words.replace("(", r"\(")) as refused:
        attempt(node, cluster)
    assert refused.value.kind == kind


def test_the_election_refuses_with_its_verdict(node):
    with pytest.raises(Refused) as refused:
        attempt(node, Cluster(peers={"n2": Freshness(400, METAID)}))
    assert refused.value.verdict.fresher_node == "n2"
    assert refused.value.kind == "fresher_peer"
    assert refused.value.own_files is None  # not this node's files' fault
    with pytest.raises(Refused, match="below the version 900.*set LOSS") as refused:
        attempt(node, Cluster(mark=Freshness(900, METAID, "n2")))
    assert refused.value.kind == "below_mark"
    with pytest.raises(Refused, match="peer n3 already runs mfsmaster") as refused:
        attempt(node, Cluster(masters=["n3"]))
    assert refused.value.kind == "peer_master"


def test_the_election_compares_the_version_the_files_restore_to(node):
    """Image 100 and changes 100-150 restore to 151: a peer at 152 is fresher."""
    with pytest.raises(Refused) as refused:
        attempt(node, Cluster(peers={"n2": Freshness(152, METAID)}))
    assert "(version 152, here 151)" in refused.value.reason


def test_step_down_records_the_clean_stop_and_starts_the_metalogger(tmp_path):
    import os
    node = Node(str(tmp_path), master=True)
    write_image(str(tmp_path / "metadata.mfs"), 321)  # what a clean stop leaves
    cluster = Cluster(mark=Freshness(300, METAID, "n1"))

    class Archiver:
        def archives(self):
            return []
    step_down(node, cluster, fast=False, archiver=Archiver(), seconds=10, log=log())
    assert node.master.calls == ["stop"] and node.metalogger.calls == ["start"]
    assert cluster.recorded == [(321, METAID)]
    os.remove(tmp_path / "metadata.mfs")
    node.master.running = True  # killed this time: no image, nothing to record
    node.metalogger.running = True
    step_down(node, cluster, fast=False, archiver=Archiver(), seconds=10, log=log())
    assert cluster.recorded == [(321, METAID)] and node.metalogger.calls == ["start"]
