"""Real MooseFS daemons on loopback for tests: masters, metaloggers, a chunkserver, a client.

Every master listens on 127.0.0.1 with the same ports (at most one runs at a time, as
in a cluster where the virtual IP follows the master), each node has its own data
directory and config files. Every process started here is recorded by PID and
stopped by `Lab.teardown()`, which also unmounts the client.
"""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import time

PORT_BASE = int(os.environ.get("MFSHA_TEST_PORT_BASE", "21419"))
ML_PORT, CS_PORT, CL_PORT, CSSERV_PORT = PORT_BASE, PORT_BASE + 1, PORT_BASE + 2, PORT_BASE + 3


def wait_until(predicate, timeout: float, step: float = 0.1, what: str = "condition"):
    """Poll `predicate` until true or `timeout` seconds pass (then raise)."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("timed out after %.0fs waiting for %s" % (timeout, what))


def _write(path: str, text: str) -> str:
    with open(path, "w") as stream:
        stream.write(text)
    return path


def _lock_owner(path: str) -> int:
    from moosefs.daemons import lock_owner
    return lock_owner(path)


class Node:
    """One 'node': a data directory shared by its master and its metalogger."""

    def __init__(self, lab: "Lab", name: str) -> None:
        self.lab = lab
        self.name = name
        self.data = os.path.join(lab.base, name, "data")
        os.makedirs(self.data, exist_ok=True)
        shutil.chown(self.data, "mfs", "mfs")
        etc = os.path.join(lab.base, name)
        self.master_cfg = _write(os.path.join(etc, "mfsmaster.cfg"), lab.master_cfg_text(self))
        self.metalogger_cfg = _write(os.path.join(etc, "mfsmetalogger.cfg"),
                                     lab.metalogger_cfg_text(self))

    def master_pid(self) -> int:
        return _lock_owner(os.path.join(self.data, ".mfsmaster.lock"))

    def metalogger_pid(self) -> int:
        return _lock_owner(os.path.join(self.data, ".mfsmetalogger.lock"))

    def version(self) -> int:
        """What this node's files restore to in its current role: its own master files
        while it runs mfsmaster, else its metalogger files."""
        from moosefs.history import Known
        from moosefs.inspect import inspect
        return inspect(self.data, known=Known(0, bool(self.master_pid()))).version


class Lab:
    def __init__(self, base: str) -> None:
        self.base = base
        os.makedirs(base, exist_ok=True)
        os.chmod(base, 0o755)
        self.exports = _write(os.path.join(base, "mfsexports.cfg"),
                              "127.0.0.0/8 / rw,alldirs,admin,maproot=0:0\n"
                              "0.0.0.0/32 / rw,alldirs,admin,maproot=0:0\n")
        self.topology = _write(os.path.join(base, "mfstopology.cfg"), "")
        self.nodes: dict[str, Node] = {}
        self.children: list[subprocess.Popen] = []
        self.mountpoint = os.path.join(base, "mnt")
        self.chunk_dir = os.path.join(base, "cs")
        self.hdd = os.path.join(base, "hdd")

    # -- configuration -------------------------------------------------------------
    def master_cfg_text(self, node: Node) -> str:
        return "\n".join([
            "WORKING_USER = mfs", "WORKING_GROUP = mfs", "SYSLOG_IDENT = mfsmaster-%s" % node.name,
            "NICE_LEVEL = 0", "DATA_PATH = %s" % node.data,
            "EXPORTS_FILENAME = %s" % self.exports, "TOPOLOGY_FILENAME = %s" % self.topology,
            "MATOML_LISTEN_HOST = 127.0.0.1", "MATOML_LISTEN_PORT = %d" % ML_PORT,
            "MATOCS_LISTEN_HOST = 127.0.0.1", "MATOCS_LISTEN_PORT = %d" % CS_PORT,
            "MATOCL_LISTEN_HOST = 127.0.0.1", "MATOCL_LISTEN_PORT = %d" % CL_PORT,
            # Test-only: the master refuses 127/8 chunkservers; remap them to 0.0.0.0,
            # which Linux routes back to 127.0.0.1.
            "REMAP_BITS = 32", "REMAP_SOURCE_IP_CLASS = 127.0.0.1",
            "REMAP_DESTINATION_IP_CLASS = 0.0.0.0", ""])

    def metalogger_cfg_text(self, node: Node) -> str:
        return "\n".join([
            "WORKING_USER = mfs", "WORKING_GROUP = mfs",
            "SYSLOG_IDENT = mfsmetalogger-%s" % node.name, "NICE_LEVEL = 0",
            "DATA_PATH = %s" % node.data, "MASTER_HOST = 127.0.0.1",
            "MASTER_PORT = %d" % ML_PORT, "MASTER_RECONNECTION_DELAY = 1",
            "MASTER_TIMEOUT = 10", "BACK_LOGS = 50", "META_DOWNLOAD_FREQ = 24", ""])

    def node(self, name: str) -> Node:
        if name not in self.nodes:
            self.nodes[name] = Node(self, name)
        return self.nodes[name]

    # -- daemons -----------------------------------------------------------------
    def start_chunkserver(self) -> None:
        for folder in (self.chunk_dir, self.hdd):
            os.makedirs(folder, exist_ok=True)
            shutil.chown(folder, "mfs", "mfs")
        hdd_cfg = _write(os.path.join(self.base, "mfshdd.cfg"), self.hdd + "\n")
        cfg = _write(os.path.join(self.base, "mfschunkserver.cfg"), "\n".join([
            "WORKING_USER = mfs", "WORKING_GROUP = mfs", "SYSLOG_IDENT = mfschunkserver-test",
            "NICE_LEVEL = 0", "DATA_PATH = %s" % self.chunk_dir, "HDD_CONF_FILENAME = %s" % hdd_cfg,
            "HDD_LEAVE_SPACE_DEFAULT = 256MiB", "MASTER_HOST = 0.0.0.0",
            "MASTER_PORT = %d" % CS_PORT, "MASTER_RECONNECTION_DELAY = 1",
            "CSSERV_LISTEN_HOST = 127.0.0.1", "CSSERV_LISTEN_PORT = %d" % CSSERV_PORT, ""]))
        self.chunkserver_cfg = cfg
        subprocess.run(["mfschunkserver", "-c", cfg, "start"], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def chunkserver_pid(self) -> int:
        return _lock_owner(os.path.join(self.chunk_dir, ".mfschunkserver.lock"))

    def mount(self) -> None:
        os.makedirs(self.mountpoint, exist_ok=True)
        log = open(os.path.join(self.base, "mfsmount.log"), "w")
        child = subprocess.Popen(["mfsmount", self.mountpoint, "-f", "-H", "127.0.0.1", "-P",
                                  str(CL_PORT), "-o", "mfsioretries=60"],
                                 stdout=log, stderr=subprocess.STDOUT)
        self.children.append(child)
        wait_until(lambda: self.mounted(), 30, what="mfsmount")

    def mounted(self) -> bool:
        with open("/proc/mounts") as stream:
            return any(line.split()[1] == self.mountpoint for line in stream)

    def wait_chunkserver_registered(self, timeout: float = 30) -> None:
        """Writes block without a chunkserver: wait until the master lists one."""
        def registered() -> bool:
            out = subprocess.run(["mfscli", "-H", "127.0.0.1", "-P", str(CL_PORT), "-SCS", "-s",
                                  "|"], capture_output=True, text=True, timeout=10).stdout
            return str(CSSERV_PORT) in out
        wait_until(registered, timeout, step=0.3, what="chunkserver registration")

    # -- data --------------------------------------------------------------------
    def write_files(self, prefix: str, count: int, seed: int = 1) -> dict[str, str]:
        """Write `count` files of random sizes; returns {relative path: sha256}."""
        rng = random.Random(seed)
        folder = os.path.join(self.mountpoint, prefix)
        os.makedirs(folder, exist_ok=True)
        sums = {}
        for index in range(count):
            data = rng.randbytes(rng.choice((0, 1, 100, 4096, 70000)))
            relative = os.path.join(prefix, "f%04d" % index)
            with open(os.path.join(self.mountpoint, relative), "wb") as stream:
                stream.write(data)
            sums[relative] = hashlib.sha256(data).hexdigest()
        return sums

    def checksums(self, relative_paths) -> dict[str, str | None]:
        found = {}
        for relative in relative_paths:
            try:
                with open(os.path.join(self.mountpoint, relative), "rb") as stream:
                    found[relative] = hashlib.sha256(stream.read()).hexdigest()
            except OSError:
                found[relative] = None
        return found

    def assert_files(self, expected: dict[str, str]) -> None:
        found = self.checksums(expected)
        bad = [p for p in expected if found[p] != expected[p]]
        assert not bad, "%d of %d files lost or changed, e.g. %s" % (len(bad), len(expected), bad[:5])

    # -- teardown ------------------------------------------------------------------
    def teardown(self) -> None:
        if self.mounted():
            subprocess.run(["fusermount3", "-u", "-z", self.mountpoint], timeout=30,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for child in self.children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(10)
        pids = [n.master_pid() for n in self.nodes.values()] + \
               [n.metalogger_pid() for n in self.nodes.values()]
        if os.path.isdir(self.chunk_dir):
            pids.append(self.chunkserver_pid())
        for pid in [p for p in pids if p]:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        for pid in [p for p in pids if p]:
            wait_until(lambda: not os.path.exists("/proc/%d" % pid) or
                       open("/proc/%d/stat" % pid).read().split(")")[-1].split()[0] == "Z",
                       20, what="pid %d to exit" % pid)
