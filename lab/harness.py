"""A real corosync + Pacemaker cluster on one machine, for tests and the demo.

Each node is a set of Linux namespaces (network, mount, UTS, IPC, PID) in its own
cgroup, with private /run, /dev/shm, /etc/corosync, /etc/mfs, /var/lib/{corosync,
pacemaker,mfs} and /var/log, joined by a veth link to a bridge in a switch namespace.
Addresses exist only inside these namespaces. A "client" node runs no cluster
daemons: it holds the chunkserver and the mfsmount client.

Platforms: "debian12" nodes run on this machine's own root (Debian 12: Pacemaker 2.1,
MooseFS 3.0); the agent is installed with `make install DESTDIR=...` and laid over
/usr/lib/ocf in every node with a read-only overlay, the test fence agent likewise over
/usr/sbin. "debian13" nodes run on a private copy-on-write layer over the Debian 13 root
of scripts/debian13-root (Pacemaker 3.0, MooseFS 4.57 from Debian), and the agent is
installed inside each node with `make install`.
Nothing on the host is changed but the cgroups, the switch namespace and the state
folder, all removed by `down()`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ElementTree

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CGROUP2 = "/sys/fs/cgroup/unified"
DATA_PATH = "/var/lib/mfs/meta"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ClusterError(Exception):
    pass


class PlatformUnavailable(ClusterError):
    """The platform's root file system cannot be had here (the tests skip)."""


PLATFORMS = ("debian12", "debian13")


def system_root(platform: str, build: bool = True) -> str | None:
    """The root file system of `platform`'s nodes; None: this machine's own."""
    if platform == "debian12":
        return None
    if platform != "debian13":
        raise ClusterError("unknown platform %r (known: %s)" % (platform, ", ".join(PLATFORMS)))
    argv = [os.path.join(ROOT, "scripts", "debian13-root")] + ([] if build else ["--check"])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if done.returncode == 3:
        raise PlatformUnavailable(done.stderr.strip().splitlines()[-1])
    if done.returncode != 0:
        raise ClusterError("scripts/debian13-root failed: %s" % done.stderr.strip()[-500:])
    return done.stdout.strip()


def wait_for(predicate, timeout: float, step: float = 0.2, what: str = "condition"):
    until = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= until:
            raise ClusterError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


class Cluster:
    def __init__(self, prefix: str = "mfshat", nodes: int = 3, net: str = "10.99.0",
                 token_ms: int = 1000, state: str | None = None,
                 moosefs_prefix: str | None = None, platform: str = "debian12",
                 package: str | None = None) -> None:
        """`moosefs_prefix`: a MooseFS installed under a prefix of its own (the 4.x build
        of scripts/moosefs4), put first on every node's PATH; else the system's.
        `platform`: one of PLATFORMS (see the module's doc).
        `package`: the agent's .deb, installed with dpkg in each node of a platform with
        a root of its own, instead of `make install`; the source tree is then not
        visible inside the nodes at all."""
        self.prefix = prefix
        self.platform = platform
        self.package = package
        self.system_root: str | None = None
        self.moosefs_prefix = moosefs_prefix
        self.node_moosefs: dict[str, str | None] = {}  # a node's own, see use_moosefs
        self.nodes = ["node%d" % i for i in range(1, nodes + 1)]
        self.client = "client"
        self.net = net
        self.vip = net + ".100"
        self.token_ms = token_ms
        self.state = state or os.path.join("/var/tmp", prefix)
        self.switch = prefix + "-sw"
        self.cgroup = os.path.join(CGROUP2, prefix)
        self.ocf_tree = os.path.join(self.state, "install", "usr", "lib", "ocf")

    # -- addresses and paths -----------------------------------------------------------------
    def use_moosefs(self, node: str, prefix: str | None) -> None:
        """The MooseFS `node` runs from its next boot on (None: the system's): a node
        rebooted onto other binaries, as in a rolling upgrade."""
        self.node_moosefs[node] = prefix

    def path_of(self, node: str) -> str:
        prefix = self.node_moosefs.get(node, self.moosefs_prefix)
        return ("%s/sbin:%s/bin:" % (prefix, prefix) if prefix else "") + PATH

    def ip(self, node: str) -> str:
        return "%s.%d" % (self.net, 200 if node == self.client else 10 + int(node[4:]))

    def node_dir(self, node: str) -> str:
        return os.path.join(self.state, node)

    def node_root(self, node: str) -> str:
        return os.path.join(self.node_dir(node), "root")

    def pid1(self, node: str) -> int:
        try:
            pid = int(open(os.path.join(self.node_dir(node), "pid1")).read())
        except (OSError, ValueError):
            return 0
        return pid if pid in self.procs(node) else 0

    def procs(self, node: str) -> list[int]:
        try:
            return [int(p) for p in open(os.path.join(self.cgroup, node, "cgroup.procs"))]
        except OSError:
            return []

    def running(self, node: str, comm: str) -> list[int]:
        """PIDs (host view) of the node's processes named `comm`."""
        found = []
        for pid in self.procs(node):
            try:
                if open("/proc/%d/comm" % pid).read().strip() == comm:
                    found.append(pid)
            except OSError:
                continue
        return found

    def path_in(self, node: str, path: str) -> str:
        """A path inside the node's mount namespace, seen from the host."""
        return "/proc/%d/root%s" % (self.pid1(node), path)

    # -- running commands in a node --------------------------------------------------------------
    def nx(self, node: str, argv: list[str], timeout: float = 60, check: bool = True,
           env: dict[str, str] | None = None, input: str | None = None
           ) -> subprocess.CompletedProcess:
        pid = self.pid1(node)
        if not pid:
            raise ClusterError("node %s is not running" % node)
        variables = ["HOME=/root", "PATH=" + self.path_of(node), "LANG=C.UTF-8"]
        variables += ["%s=%s" % item for item in (env or {}).items()]
        command = ['echo $$ > "$0/cgroup.procs" && exec "$@"', os.path.join(self.cgroup, node),
                   "nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p",
                   # root and working directory of the node's init: "--wd=/" would be
                   # opened on the host, outside a node with a root of its own
                   "-r", "-w", "--",
                   "env", "-i"] + variables + argv
        done = subprocess.run(["bash", "-c"] + command, capture_output=True, text=True,
                              timeout=timeout, input=input)
        if check and done.returncode != 0:
            raise ClusterError("%s: %s failed (%d): %s" % (node, " ".join(argv), done.returncode,
                                                          (done.stderr or done.stdout)[-800:]))
        return done

    # -- building ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        if os.path.isdir(self.cgroup) or self._switch_exists():
            self.down()
        shutil.rmtree(self.state, ignore_errors=True)
        os.makedirs(self.state)
        self.system_root = system_root(self.platform)
        with open(os.path.join(self.state, "platform"), "w") as stream:
            stream.write(self.platform)
        if self.package:
            if self.system_root is None:
                raise ClusterError("a package is installed only on nodes with a root of "
                                   "their own (platform debian13)")
            self._stage_package()
        else:
            subprocess.run(["make", "-s", "-C", ROOT, "install",
                            "DESTDIR=" + os.path.join(self.state, "install")], check=True,
                           stdout=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", self.switch], check=True)
        self._sw(["link", "add", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0"])
        self._sw(["link", "set", "br0", "up"])
        self._sw(["link", "set", "lo", "up"])
        os.makedirs(self.cgroup, exist_ok=True)
        subprocess.run(["corosync-keygen", "-k", os.path.join(self.state, "authkey")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for node in self.nodes + [self.client]:
            self._prepare_node(node)

    @property
    def staged(self) -> str:
        """Where the .deb and the test fence agent wait, seen by every node (the state)."""
        return os.path.join(self.state, "package")

    def _stage_package(self) -> None:
        os.makedirs(self.staged)
        shutil.copy(self.package, self.staged)
        shutil.copy(os.path.join(HERE, "sbin", "fence_mfsha_test"), self.staged)

    def _sw(self, argv: list[str]) -> None:
        subprocess.run(["ip", "-n", self.switch] + argv, check=True)

    def _switch_exists(self) -> bool:
        return os.path.exists("/run/netns/" + self.switch)

    def _prepare_node(self, node: str) -> None:
        root = self.node_root(node)
        for folder in ("etc/corosync", "etc/mfs", "var/lib/corosync", "var/lib/mfs",
                       "var/lib/pacemaker/cib", "var/lib/pacemaker/pengine",
                       "var/lib/pacemaker/blackbox", "var/lib/pacemaker/cores",
                       "var/log/pacemaker/bundles", "var/log/cluster", "var/log/crmsh",
                       "var/log/pcsd"):
            os.makedirs(os.path.join(root, folder), exist_ok=True)
        for folder in ("cib", "pengine", "blackbox", "cores"):
            path = os.path.join(root, "var/lib/pacemaker", folder)
            shutil.chown(path, "hacluster", "haclient")
            os.chmod(path, 0o750)
        shutil.chown(os.path.join(root, "var/log/pacemaker"), "hacluster", "haclient")
        os.chmod(os.path.join(root, "var/log/pacemaker"), 0o770)
        shutil.chown(os.path.join(root, "var/lib/mfs"), "mfs", "mfs")
        os.makedirs(os.path.join(root, DATA_PATH.lstrip("/")), exist_ok=True)
        shutil.chown(os.path.join(root, DATA_PATH.lstrip("/")), "mfs", "mfs")
        self._write(node, "etc/corosync/corosync.conf", self.corosync_conf())
        shutil.copy(os.path.join(self.state, "authkey"), os.path.join(root, "etc/corosync/authkey"))
        os.chmod(os.path.join(root, "etc/corosync/authkey"), 0o400)
        hosts = ["127.0.0.1 localhost"] + ["%s %s" % (self.ip(n), n) for n in
                                           self.nodes + [self.client]]
        hosts.append("%s mfsmaster" % self.vip)
        with open(os.path.join(self.node_dir(node), "hosts"), "w") as stream:
            stream.write("\n".join(hosts) + "\n")
        self._write_mfs_configs(node)
        cib = os.path.join(root, "var/lib/pacemaker/cib/cib.xml")
        self._write(node, "var/lib/pacemaker/cib/cib.xml", SEED_CIB)
        shutil.chown(cib, "hacluster", "haclient")
        os.chmod(cib, 0o600)

    def _write(self, node: str, relative: str, text: str) -> None:
        with open(os.path.join(self.node_root(node), relative), "w") as stream:
            stream.write(text)

    def _write_mfs_configs(self, node: str) -> None:
        self._write(node, "etc/mfs/mfsexports.cfg",
                    "%s.0/24 / rw,alldirs,admin,maproot=0:0\n" % self.net)
        self._write(node, "etc/mfs/mfstopology.cfg", "")
        # DATA_PATH one level below the node's private /var/lib/mfs, so that the
        # agent's default archive folder (DATA_PATH-archive) is private to the node too.
        self._write(node, "etc/mfs/mfsmaster.cfg", "\n".join([
            "WORKING_USER = mfs", "WORKING_GROUP = mfs", "DATA_PATH = %s" % DATA_PATH,
            "NICE_LEVEL = 0", "EXPORTS_FILENAME = /etc/mfs/mfsexports.cfg",
            "TOPOLOGY_FILENAME = /etc/mfs/mfstopology.cfg",
            # a 4.x master serves 3.x clients (a rolling upgrade); 3.0 ignores the key
            "RESTRICT_INCOMPATIBLE_CLIENT_VERSIONS = 0", ""]))
        self._write(node, "etc/mfs/mfsmetalogger.cfg", "\n".join([
            "WORKING_USER = mfs", "WORKING_GROUP = mfs", "DATA_PATH = %s" % DATA_PATH,
            "NICE_LEVEL = 0", "MASTER_HOST = mfsmaster", "MASTER_RECONNECTION_DELAY = 1", ""]))
        self._write(node, "etc/mfs/mfshdd.cfg", "/var/lib/mfs/hdd\n")
        self._write(node, "etc/mfs/mfschunkserver.cfg", "\n".join([
            "WORKING_USER = mfs", "WORKING_GROUP = mfs", "DATA_PATH = /var/lib/mfs",
            "NICE_LEVEL = 0", "HDD_CONF_FILENAME = /etc/mfs/mfshdd.cfg",
            "HDD_LEAVE_SPACE_DEFAULT = 256MiB", "MASTER_HOST = mfsmaster",
            "MASTER_RECONNECTION_DELAY = 1", ""]))

    def corosync_conf(self) -> str:
        nodelist = "".join(
            "    node {\n        ring0_addr: %s\n        name: %s\n        nodeid: %s\n    }\n"
            % (self.ip(n), n, n[4:]) for n in self.nodes)
        return CONF_TEMPLATE % {"token": self.token_ms, "nodelist": nodelist,
                                "name": self.prefix}

    # -- node life cycle -------------------------------------------------------------------------
    def recorded_platform(self) -> None:
        """Take the platform the cluster was built with (another process, e.g. `python3
        -m lab start NODE` after `make demo PLATFORM=debian13`, may power a node on)."""
        try:
            self.platform = open(os.path.join(self.state, "platform")).read().strip()
        except OSError:
            return
        self.system_root = system_root(self.platform, build=False)

    def boot(self, node: str) -> None:
        if self.pid1(node):
            return
        if self.system_root is None:
            self.recorded_platform()
        group = os.path.join(self.cgroup, node)
        os.makedirs(group, exist_ok=True)
        if self.procs(node):
            raise ClusterError("%s still has processes %s" % (node, self.procs(node)))
        ready = os.path.join(self.node_dir(node), "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        subprocess.run(["ip", "-n", self.switch, "link", "del", "v" + node],
                       stderr=subprocess.DEVNULL)
        log = open(os.path.join(self.node_dir(node), "init.log"), "a")
        launcher = subprocess.Popen(
            ["bash", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', group,
             "env", "-i", "PATH=" + self.path_of(node), "unshare", "--net", "--mount", "--uts", "--ipc",
             "--pid", "--fork", "--mount-proc", "--propagation", "private",
             os.path.join(HERE, "node-init"), node, self.state, self.ocf_tree,
             # the test fence agent, and the operator command `make install` wrote
             os.path.join(HERE, "sbin") + ":" + os.path.join(self.state, "install", "usr", "sbin"),
             self.system_root or "", "without-project" if self.package else "with-project"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        wait_for(lambda: os.path.exists(ready), 15, 0.05, "%s to boot" % node)
        if open(ready).read().strip() != "ok":
            raise ClusterError("%s: %s" % (node, open(ready).read()))
        children = open("/proc/%d/task/%d/children" % (launcher.pid, launcher.pid)).read().split()
        with open(os.path.join(self.node_dir(node), "pid1"), "w") as stream:
            stream.write(children[0])
        pid = children[0]
        subprocess.run(["ip", "-n", self.switch, "link", "add", "v" + node, "type", "veth",
                        "peer", "name", "eth0", "netns", pid], check=True)
        self._sw(["link", "set", "v" + node, "master", "br0", "up"])
        for argv in (["ip", "addr", "add", self.ip(node) + "/24", "dev", "eth0"],
                     ["ip", "link", "set", "eth0", "up"]):
            subprocess.run(["nsenter", "-t", pid, "-n"] + argv, check=True)
        if self.system_root:
            self.install_inside(node)

    def install_inside(self, node: str) -> None:
        """The agent as an administrator installs it (from the package, else from the
        source tree), and the test fence agent, into the node's own layer of its
        system root."""
        if not self.package:
            self.nx(node, ["make", "-s", "-C", ROOT, "install"], timeout=120)
        elif node != self.client:
            self.nx(node, ["dpkg", "-i", os.path.join(self.staged, os.path.basename(
                self.package))], timeout=120)
        fence = os.path.join(self.staged if self.package else os.path.join(HERE, "sbin"),
                             "fence_mfsha_test")
        self.nx(node, ["install", "-m", "755", fence, "/usr/sbin/"])

    def start_cluster_daemons(self, node: str) -> None:
        if not self.running(node, "corosync"):
            self.nx(node, ["corosync", "-c", "/etc/corosync/corosync.conf"])
        wait_for(lambda: self.nx(node, ["corosync-cfgtool", "-s"], check=False).returncode == 0,
                 20, what="corosync on %s" % node)
        if not self.running(node, "pacemakerd"):
            self.nx(node, ["bash", "-c", "exec setsid -f pacemakerd </dev/null "
                           ">>/var/log/pacemaker/pacemakerd.out 2>&1"],
                    # No syslog and no PCMK_logfile: Pacemaker logs to its default
                    # file, and agents' log lines reach it only through their stderr.
                    env={"PCMK_logfacility": "none"})
        wait_for(lambda: self.running(node, "pacemakerd"), 10, what="pacemakerd on %s" % node)

    def power_on(self, node: str) -> None:
        self.boot(node)
        self.start_cluster_daemons(node)

    def crash(self, node: str) -> None:
        """Power the node off at once: every process, its namespaces, its addresses."""
        group = os.path.join(self.cgroup, node)
        if os.path.isdir(group):
            with open(os.path.join(group, "cgroup.kill"), "w") as stream:
                stream.write("1")
        wait_for(lambda: not self.procs(node), 20, 0.05, "%s to die" % node)

    def isolate(self, node: str, down: bool = True) -> None:
        self._sw(["link", "set", "v" + node, "down" if down else "up"])

    def stop_node(self, node: str, timeout: float = 120) -> None:
        if not self.pid1(node):
            return
        if self.running(node, "pacemakerd"):
            self.nx(node, ["pacemakerd", "--shutdown"], check=False, timeout=timeout)
            try:
                wait_for(lambda: not self.running(node, "pacemakerd"), timeout,
                         what="pacemaker to stop on %s" % node)
            except ClusterError:
                pass
        if self.running(node, "corosync"):
            self.nx(node, ["corosync-cfgtool", "-H", "--force"], check=False)
        self.crash(node)

    def up(self, cluster_stack: bool = True) -> float:
        """Build everything and start the cluster; returns seconds until it formed.
        Without `cluster_stack` the nodes only boot (no corosync, no Pacemaker)."""
        started = time.monotonic()
        self.prepare()
        for node in self.nodes + [self.client]:
            self.boot(node)
        if cluster_stack:
            for node in self.nodes:
                self.start_cluster_daemons(node)
            wait_for(self.formed, 120, 0.5, "the cluster to form")
        return time.monotonic() - started

    def down(self) -> None:
        """Tear everything down; safe to call at any point, also twice."""
        for node in self.nodes:
            try:
                self.stop_node(node, timeout=60)
            except (ClusterError, subprocess.TimeoutExpired, OSError):
                pass
        if os.path.isdir(self.cgroup):
            for node in os.listdir(self.cgroup):
                group = os.path.join(self.cgroup, node)
                if os.path.isdir(group):
                    try:
                        self.crash(node)
                    except ClusterError:
                        pass
                    try:
                        os.rmdir(group)
                    except OSError:
                        time.sleep(0.5)
                        os.rmdir(group)
            os.rmdir(self.cgroup)
        if self._switch_exists():
            subprocess.run(["ip", "netns", "del", self.switch], check=False)

    def leftovers(self) -> list[str]:
        found = []
        if os.path.exists(self.cgroup):
            found.append(self.cgroup)
        if self._switch_exists():
            found.append("netns " + self.switch)
        return found

    # -- cluster state ----------------------------------------------------------------------------
    def any_node(self) -> str:
        for node in self.nodes:
            if self.pid1(node) and self.running(node, "pacemakerd"):
                return node
        raise ClusterError("no node runs Pacemaker")

    def status(self, node: str | None = None):
        done = self.nx(node or self.any_node(), ["crm_mon", "-1", "--output-as=xml"],
                       check=False, timeout=30)
        try:
            return ElementTree.fromstring(done.stdout)
        except ElementTree.ParseError:
            return None

    def formed(self) -> bool:
        """Every node sees the whole cluster online with a quorate DC. One node's view
        is not enough: a node that just joined shows its own view, which can lag the
        DC's (and the DC's says nothing of what the joined node knows yet)."""
        return all(self._sees_everyone(node) for node in self.nodes)

    def _sees_everyone(self, node: str) -> bool:
        try:
            status = self.status(node)
        except ClusterError:
            return False
        if status is None:
            return False
        summary = status.find("summary")
        dc = summary.find("current_dc") if summary is not None else None
        online = [n for n in status.iter("node") if n.get("online") == "true"]
        return dc is not None and dc.get("with_quorum") == "true" and \
            len(online) == len(self.nodes)

    def roles(self, clone: str = "mfs-clone", node: str | None = None) -> dict[str, str] | None:
        """{node: role} of the clone's instances, as crm_mon reports them; None when
        crm_mon did not answer (never to be read as "no instances")."""
        status = self.status(node)
        roles: dict[str, str] = {}
        if status is None:
            return None
        for element in status.iter("clone"):
            if element.get("id") != clone:
                continue
            for resource in element.iter("resource"):
                for where in resource.iter("node"):
                    roles[where.get("name")] = resource.get("role")
        return roles

    def promoted(self, clone: str = "mfs-clone", node: str | None = None) -> str | None:
        found = [n for n, role in (self.roles(clone, node) or {}).items()
                 if role in ("Promoted", "Master")]
        return found[0] if len(found) == 1 else None

    def vip_holders(self) -> list[str]:
        holders = []
        for node in self.nodes:
            pid = self.pid1(node)
            if not pid:
                continue
            done = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-o", "-4", "addr",
                                   "show"], capture_output=True, text=True, timeout=10)
            if " %s/" % self.vip in done.stdout:
                holders.append(node)
        return holders

    def masters(self) -> list[str]:
        """Nodes running the mfsmaster daemon (not the agent, whose name is the same)."""
        return [n for n in self.nodes if self.daemon_pids(n, "mfsmaster")]

    def daemon_pids(self, node: str, name: str) -> list[int]:
        found = []
        for pid in self.running(node, name):
            try:
                if os.readlink("/proc/%d/exe" % pid).endswith("/" + name):
                    found.append(pid)
            except OSError:
                continue
        return found

    def crm(self, script: str, node: str | None = None) -> None:
        self.nx(node or self.any_node(), ["crm", "configure", "load", "update", "-"],
                input=script, timeout=120)

    def log_tail(self, node: str, lines: int = 60) -> str:
        path = os.path.join(self.node_root(node), "var/log/pacemaker/pacemaker.log")
        try:
            return "".join(open(path, errors="replace").readlines()[-lines:])
        except OSError:
            return ""


SEED_CIB = """<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="3s"/>
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
      </cluster_property_set>
    </crm_config>
    <nodes/><resources/><constraints/>
  </configuration>
  <status/>
</cib>
"""

CONF_TEMPLATE = """totem {
    version: 2
    cluster_name: %(name)s
    transport: knet
    token: %(token)d
    crypto_cipher: aes256
    crypto_hash: sha256
}
nodelist {
%(nodelist)s}
quorum {
    provider: corosync_votequorum
}
system {
    move_to_root_cgroup: no
}
logging {
    to_logfile: yes
    logfile: /var/log/cluster/corosync.log
    to_syslog: no
    to_stderr: no
    timestamp: hires
}
"""
