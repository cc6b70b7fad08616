"""What the cluster tests, the demo and the failover benchmark do with a Cluster:
configure it from crm-examples/, run the MooseFS client, inject faults, time failovers,
and watch that never two nodes run mfsmaster or hold the virtual IP at once."""
from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import subprocess
import threading
import time

from .harness import DATA_PATH, ROOT, Cluster, ClusterError, wait_for
from .sockets import established_to

CLONE = "mfs-clone"
CS_PORT = 9420  # the master's port for chunkservers
CL_PORT = 9421  # and for clients


def fencing_crm(cluster: Cluster) -> str:
    return ('primitive fence stonith:fence_mfsha_test params cgroup_root=%s '
            'pcmk_host_list="%s" op monitor interval=60s\n'
            % (cluster.cgroup, " ".join(cluster.nodes)))


def configure_crm(cluster: Cluster, example: str = "mfsmaster.crm") -> None:
    text = open(os.path.join(ROOT, "crm-examples", example)).read()
    cluster.crm(text.replace("10.99.0.100", cluster.vip) + fencing_crm(cluster))


def configure_pcs(cluster: Cluster) -> None:
    node = cluster.any_node()
    cluster.crm(fencing_crm(cluster), node)
    script = open(os.path.join(ROOT, "crm-examples", "mfsmaster.pcs")).read()
    cluster.nx(node, ["sh", "-c", script], env={"VIP": cluster.vip}, timeout=180)


def healthy(cluster: Cluster) -> str | None:
    """The Promoted node when every node is in a role and the VIP sits on it."""
    roles = cluster.roles(CLONE)
    if roles is None:
        return None
    promoted = [n for n, r in roles.items() if r == "Promoted"]
    if len(roles) != len(cluster.nodes) or len(promoted) != 1:
        return None
    if any(r not in ("Promoted", "Unpromoted") for r in roles.values()):
        return None
    if cluster.vip_holders() != promoted or cluster.masters() != promoted:
        return None
    return promoted[0]


def settle(cluster: Cluster, timeout: float = 120) -> str:
    return wait_for(lambda: healthy(cluster), timeout, 0.5, "a healthy cluster")


def cleanup(cluster: Cluster) -> None:
    cluster.nx(cluster.any_node(), ["crm_resource", "--cleanup"], check=False)


class Client:
    """The chunkserver and the mfsmount client in the client node."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.expected: dict[str, str] = {}
        self.rng = random.Random(7)

    def start(self) -> None:
        node = self.cluster.client
        self.cluster.nx(node, ["bash", "-c", "mkdir -p /var/lib/mfs/hdd && chown -R mfs:mfs "
                               "/var/lib/mfs && mfschunkserver -c /etc/mfs/mfschunkserver.cfg "
                               "start"], timeout=60)
        self.cluster.nx(node, ["mfsmount", "/run/mfsmnt", "-H", "mfsmaster", "-o",
                               "mfsioretries=60"], timeout=60)

    @property
    def mountpoint(self) -> str:
        return self.cluster.path_in(self.cluster.client, "/run/mfsmnt")

    def write(self, prefix: str, count: int) -> None:
        folder = os.path.join(self.mountpoint, prefix)
        os.makedirs(folder, exist_ok=True)
        for index in range(count):
            data = self.rng.randbytes(self.rng.choice((0, 10, 3000, 70000)))
            relative = "%s/f%04d" % (prefix, index)
            with open(os.path.join(self.mountpoint, relative), "wb") as stream:
                stream.write(data)
            self.expected[relative] = hashlib.sha256(data).hexdigest()

    def verify(self) -> list[str]:
        """Files missing or with another checksum (empty when all are intact)."""
        bad = []
        for relative, digest in self.expected.items():
            try:
                with open(os.path.join(self.mountpoint, relative), "rb") as stream:
                    if hashlib.sha256(stream.read()).hexdigest() != digest:
                        bad.append(relative)
            except OSError:
                bad.append(relative)
        return bad

    def master_serving(self) -> bool:
        done = subprocess.run(["nsenter", "-t", str(self.cluster.pid1(self.cluster.client)), "-n",
                               "bash", "-c", "exec 3<>/dev/tcp/%s/%d" % (self.cluster.vip,
                                                                         CL_PORT)],
                              capture_output=True, timeout=10)
        return done.returncode == 0


class Sampler:
    """Samples, until stopped, how many nodes run mfsmaster and hold the VIP."""

    def __init__(self, cluster: Cluster, period: float = 0.25) -> None:
        self.cluster = cluster
        self.period = period
        self.violations: list[tuple[float, str, list[str]]] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                masters = self.cluster.masters()
                holders = self.cluster.vip_holders()
            except (OSError, subprocess.SubprocessError):
                continue
            self.samples += 1
            now = time.monotonic()
            if len(masters) > 1:
                self.violations.append((now, "mfsmaster", masters))
            if len(holders) > 1:
                self.violations.append((now, "vip", holders))
            self._stop.wait(self.period)


class Timing:
    """Seconds from a fault to each milestone of the failover."""

    def __init__(self) -> None:
        self.vip = self.serving = self.read = self.write = None
        # when the chunkserver and mfsmount had a new connection to the VIP's master
        self.chunkserver = self.mount = None
        self.new_promoted = ""

    def row(self) -> dict[str, float | None]:
        return {"vip": self.vip, "serving": self.serving, "read": self.read, "write": self.write,
                "chunkserver": self.chunkserver, "mount": self.mount}


class Reconnections:
    """Watches, from the fault on, when the client node's chunkserver and mfsmount open a
    new connection to the master behind the VIP (a read asked before the chunkserver is
    back gets no chunk locations, and mfsmount retries it after 10 s)."""

    PORTS = {"chunkserver": ("mfschunkserver", CS_PORT), "mount": ("mfsmount", CL_PORT)}

    def __init__(self, cluster: Cluster, started: float, timeout: float) -> None:
        self.cluster = cluster
        self.started = started
        self.deadline = started + timeout
        self.found: dict[str, float] = {}
        self._stop = threading.Event()
        # each daemon's PID, port and the connections it had before the fault
        self._old = {name: (pid, port, established_to(pid, cluster.vip, port))
                     for name, pid, port in self._daemons()}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _daemons(self):
        for name, (comm, port) in self.PORTS.items():
            pids = self.cluster.running(self.cluster.client, comm)
            if pids:
                yield name, pids[0], port

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            for name, (pid, port, old) in self._old.items():
                if name not in self.found and established_to(pid, self.cluster.vip, port) - old:
                    self.found[name] = time.monotonic() - self.started
            if len(self.found) == len(self._old):
                return
            self._stop.wait(0.02)

    def stop(self, timing: Timing) -> None:
        self._stop.set()
        self._thread.join(5)
        timing.chunkserver = self.found.get("chunkserver")
        timing.mount = self.found.get("mount")


def timed_failover(cluster: Cluster, client: Client | None, fault, old: str,
                   timeout: float = 120, moves: bool = True) -> Timing:
    """Run `fault()` and time: VIP up on another node, master accepting connections
    there, the client's first successful read and write. With `moves` false (a killed
    mfsmaster, which Pacemaker may recover in place) the VIP is not timed and the master
    counts once it accepts connections again."""
    timing = Timing()
    started = time.monotonic()
    results: dict[str, float] = {}

    def io_probe(kind: str) -> None:
        path = os.path.join(client.mountpoint, "probe-%s-%d" % (kind, int(started)))
        try:
            if kind == "write":
                with open(path, "w") as stream:
                    stream.write("after failover")
            else:
                relative = next(iter(client.expected), None)
                if relative is None:
                    os.listdir(client.mountpoint)
                else:
                    with open(os.path.join(client.mountpoint, relative), "rb") as stream:
                        stream.read()
            results[kind] = time.monotonic() - started
        except OSError:
            pass

    watcher = Reconnections(cluster, started, timeout) if client is not None else None
    fault()
    def moved():
        holders = cluster.vip_holders()
        return holders[0] if len(holders) == 1 and holders[0] != old else None
    if moves:
        timing.new_promoted = wait_for(moved, timeout, 0.1, "the VIP on another node")
        timing.vip = time.monotonic() - started
    else:
        wait_for(lambda: not client.master_serving(), 10, 0.05, "the master to stop serving")
    if client is None:
        return timing
    wait_for(client.master_serving, timeout, 0.1, "the master to accept connections")
    timing.serving = time.monotonic() - started
    threads = [threading.Thread(target=io_probe, args=(k,), daemon=True)
               for k in ("read", "write")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    timing.read, timing.write = results.get("read"), results.get("write")
    watcher.stop(timing)
    return timing


def logged_version(cluster: Cluster, node: str, as_master: bool) -> int:
    """The version a node's files restore to: its master files or its metalogger's."""
    from moosefs.history import Known
    from moosefs.inspect import inspect
    return inspect(cluster.path_in(node, DATA_PATH), known=Known(0, as_master)).version


def replicated(cluster: Cluster, master: str, nodes: list[str] | None = None,
               timeout: float = 30) -> None:
    """Wait until the metaloggers of `nodes` (default: every other node) hold every change
    the master has logged. MooseFS sends changes to metaloggers without acknowledgement,
    so a crash in the very instant of a client's write can lose that write on every
    surviving node (seen in CI on 3.0.117, once in 100-odd crashes). A test that checks
    the agent, not that window of MooseFS, waits for this before it crashes the master.
    A metalogger with a hole catches up once its monitor restarts it (within 11 s)."""
    nodes = [n for n in cluster.nodes if n != master] if nodes is None else nodes
    time.sleep(1.1)  # mfsmaster and mfsmetalogger write their changelogs once a second
    target = logged_version(cluster, master, True)
    wait_for(lambda: all(logged_version(cluster, n, False) >= target for n in nodes),
             timeout, 0.2, "the metaloggers of %s to reach version %d" % (nodes, target))


def kill_master(cluster: Cluster, node: str) -> None:
    for pid in cluster.daemon_pids(node, "mfsmaster"):
        os.kill(pid, signal.SIGKILL)


def switchover(cluster: Cluster, target: str) -> None:
    cluster.nx(cluster.any_node(), ["crm_resource", "--move", "--promoted", "-r", CLONE,
                                    "-N", target, "--force"])


def clear_moves(cluster: Cluster) -> None:
    cluster.nx(cluster.any_node(), ["crm_resource", "--clear", "-r", CLONE], check=False)


def restore_node(cluster: Cluster, node: str) -> None:
    """Power a crashed or fenced node back on."""
    if not cluster.pid1(node):
        cluster.power_on(node)


def bring_up(cluster: Cluster, tool: str = "crm", configure=None) -> tuple[Client, float]:
    """Form the cluster, configure it (with the example for `tool`, or by calling
    `configure(cluster)`), start the client; returns the seconds to a healthy cluster
    after configuring."""
    cluster.up()
    started = time.monotonic()
    if configure is None:
        configure = configure_crm if tool == "crm" else configure_pcs
    configure(cluster)
    settle(cluster)
    configured = time.monotonic() - started
    client = Client(cluster)
    client.start()
    return client, configured


@contextlib.contextmanager
def stopped(pids: list[int]):
    """The processes `pids` stopped (SIGSTOP) meanwhile, continued afterwards (those
    still there)."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield pids
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


@contextlib.contextmanager
def held_back(cluster: Cluster, node: str):
    """`node`'s metalogger stopped in its tracks (SIGSTOP) meanwhile: it misses changes."""
    loggers = cluster.daemon_pids(node, "mfsmetalogger")
    assert loggers, "no metalogger runs on %s" % node
    with stopped(loggers):
        yield loggers


SMALL_RMEM = "4096 4096 4096"
DEFAULT_RMEM = "4096 131072 6291456"  # Linux's default


def _restart_metalogger(cluster: Cluster, node: str, rmem: str) -> None:
    """Restart `node`'s metalogger by hand with TCP receive buffers of `rmem` (a
    per-namespace setting, read when a socket is made); the agent's monitor sees a
    running metalogger throughout (it looks at the lock's owner)."""
    cluster.nx(node, ["sysctl", "-q", "-w", "net.ipv4.tcp_rmem=" + rmem])
    cluster.nx(node, ["mfsmetalogger", "-c", "/etc/mfs/mfsmetalogger.cfg", "restart"],
               timeout=60)


@contextlib.contextmanager
def lagging(cluster: Cluster, nodes: list[str]):
    """The metaloggers of `nodes` fall behind and stay behind: restarted with small
    receive buffers, then stopped (SIGSTOP). Their kernels soon close the receive
    window, and what the master sends waits in its own send queue: a crash of the
    master loses it for them. Continued and restarted with normal buffers afterwards
    (those not gone meanwhile)."""
    for node in nodes:
        _restart_metalogger(cluster, node, SMALL_RMEM)
    try:
        with stopped([pid for node in nodes for pid in cluster.daemon_pids(node,
                                                                          "mfsmetalogger")]):
            yield
    finally:
        for node in nodes:
            if cluster.pid1(node) and cluster.daemon_pids(node, "mfsmetalogger"):
                _restart_metalogger(cluster, node, DEFAULT_RMEM)


@contextlib.contextmanager
def watched(cluster: Cluster, tool: str = "crm", configure=None):
    """The cluster brought up and configured (see bring_up), its client as
    `cluster.client_helper` and a running Sampler as `cluster.sampler`; always torn
    down, and nothing may be left."""
    try:
        client, configured = bring_up(cluster, tool, configure)
        cluster.client_helper = client
        cluster.sampler = Sampler(cluster).__enter__()
        print("cluster healthy %.1f s after configuring with %s" % (
            configured, getattr(configure, "__name__", tool)))
        yield cluster
    finally:
        sampler = getattr(cluster, "sampler", None)
        if sampler is not None:
            sampler.__exit__(None, None, None)
        cluster.down()
    assert cluster.leftovers() == []


__all__ = ["ClusterError"]
