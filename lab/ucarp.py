"""ucarp with mfsha-ucarp's hooks on the lab's nodes (no corosync, no Pacemaker), as
ucarp-examples/ configures it: the ucarp command line of ucarp-mfsmaster.service, the
hook config mfsha-ucarp.cfg with this lab's addresses, and the freshness responder."""
from __future__ import annotations

import os
import re
import signal

from .harness import DATA_PATH, ROOT, Cluster, wait_for

EXAMPLES = os.path.join(ROOT, "ucarp-examples")
CONFIG = "/etc/mfs/mfsha-ucarp.cfg"
HOOK_LOG = "/var/log/mfsha-ucarp.log"
UCARP_LOG = "/var/log/ucarp.out"
SECRET = "lab-freshness-secret-0123456789"


def hook_config(cluster: Cluster) -> str:
    """The example config with the lab's peers, state inside each node's private
    /var/lib/mfs, no syslog, and a new file system allowed at the first start."""
    text = open(os.path.join(EXAMPLES, "mfsha-ucarp.cfg")).read()
    changes = {"PEERS": " ".join(cluster.ip(n) for n in cluster.nodes),
               "STATE_DIR": "/var/lib/mfs/mfsha-ucarp", "SYSLOG_FACILITY": "none",
               "ALLOW_NEW_FILESYSTEM": "1"}
    for key, value in changes.items():
        text, count = re.subn(r"(?m)^%s =.*$" % key, "%s = %s" % (key, value), text)
        assert count == 1, key
    return text


def ucarp_argv(cluster: Cluster, node: str, skew: int) -> list[str]:
    """ExecStart of the example unit, with this node's values for its variables."""
    unit = open(os.path.join(EXAMPLES, "ucarp-mfsmaster.service")).read()
    line = re.search(r"(?m)^ExecStart=(.*)$", unit).group(1)
    values = {"IFACE": "eth0", "SRCIP": cluster.ip(node), "VHID": "42", "VIP": cluster.vip,
              "PASSFILE": "/etc/mfs/ucarp.pass", "ADVSKEW": str(skew)}
    line = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], line)
    # The hooks as `make install DESTDIR=` wrote them into the lab's install tree.
    libexec = os.path.join(cluster.state, "install", "usr", "libexec")
    return line.replace("/usr/libexec", libexec).split()


class UcarpSite:
    def __init__(self, cluster: Cluster, skews: dict[str, int]) -> None:
        self.cluster = cluster
        self.skews = skews

    def configure(self, node: str) -> None:
        root = self.cluster.node_root(node)
        with open(os.path.join(root, "etc/mfs/mfsha-ucarp.cfg"), "w") as stream:
            stream.write(hook_config(self.cluster))
        with open(os.path.join(root, "etc/mfs/ucarp.pass"), "w") as stream:
            stream.write("lab-secret\n")
        self.write_secret(node, SECRET)

    def write_secret(self, node: str, secret: str) -> None:
        """The responder's and hooks' shared secret (root's, mode 600)."""
        path = os.path.join(self.cluster.node_root(node), "etc/mfs/mfsha-ucarp.secret")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(secret + "\n")
        os.chmod(path, 0o600)

    def start(self, node: str) -> None:
        """The responder, then ucarp (whose first down hook starts the metalogger)."""
        self.configure(node)
        nx = self.cluster.nx
        self.start_responder(node)
        argv = ucarp_argv(self.cluster, node, self.skews[node])
        nx(node, ["bash", "-c", 'exec setsid -f "$@" </dev/null >>%s 2>&1' % UCARP_LOG, "ucarp"]
           + argv)
        wait_for(lambda: self.cluster.running(node, "ucarp"), 10, 0.1, "ucarp on %s" % node)

    def start_responder(self, node: str) -> None:
        if not self.answering(node):
            self.cluster.nx(node, ["bash", "-c", "exec setsid -f mfsha-ucarp serve %s "
                                   "</dev/null >>/var/log/mfsha-ucarp.out 2>&1" % CONFIG])
            wait_for(lambda: self.answering(node), 10, 0.2, "the responder on %s" % node)

    def responder_pids(self, node: str) -> list[int]:
        """`mfsha-ucarp serve` and the tests' fake responders on `node`."""
        found = []
        for pid in self.cluster.procs(node):
            try:
                words = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
            except OSError:
                continue
            if (b"serve" in words and any(w.endswith(b"mfsha-ucarp") for w in words)) \
                    or b"fake-freshness-responder" in words:
                found.append(pid)
        return found

    def stop_responder(self, node: str) -> None:
        for pid in self.responder_pids(node):
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not self.responder_pids(node) and not self.answering(node), 10, 0.2,
                 "the responder on %s to stop" % node)

    def fake_responder(self, node: str, lines: list[str]) -> None:
        """In place of the node's responder, a listener run as `nobody` on its freshness
        port that gives each connection the next of `lines` ("" : accept, never answer)."""
        # argv: -c, the marker the tests find it by, the address, the lines
        code = ("import itertools, socket, sys\n"
                "lines = sys.argv[3:]\n"
                "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                "s.bind((sys.argv[2], 9429)); s.listen(16)\n"
                "held = []\n"
                "for line in itertools.cycle(lines):\n"
                "    c, _ = s.accept()\n"
                "    if line: c.sendall(line.encode() + b'\\n'); c.close()\n"
                "    else: held.append(c)\n")
        self.cluster.nx(node, ["bash", "-c", 'exec setsid -f setpriv --reuid=nobody '
                               '--regid=nogroup --clear-groups python3 -c "$0" '
                               'fake-freshness-responder "$@" </dev/null >/dev/null 2>&1',
                               code, self.cluster.ip(node)] + lines)
        wait_for(lambda: self.answering(node), 10, 0.2, "the fake responder on %s" % node)

    def mark(self, node: str) -> int:
        """The version of the node's local high-water mark (0: none)."""
        path = os.path.join(self.cluster.node_root(node), "var/lib/mfs/mfsha-ucarp",
                            "high-water-mark")
        try:
            values = dict(line.split("=", 1) for line in open(path).read().splitlines()
                          if "=" in line)
        except OSError:
            return 0
        return int(values.get("version") or 0)

    def answering(self, node: str) -> bool:
        """Does something listen at the node's freshness port?"""
        done = self.cluster.nx(node, ["bash", "-c", "exec 3<>/dev/tcp/%s/9429"
                                      % self.cluster.ip(node)], check=False)
        return done.returncode == 0

    def stop_ucarp(self, node: str, timeout: float = 90) -> None:
        """SIGTERM, as systemd stops the unit: with --shutdown a master runs the down hook."""
        for pid in self.cluster.running(node, "ucarp"):
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not self.cluster.running(node, "ucarp"), timeout, 0.2,
                 "ucarp to exit on %s" % node)

    def master(self) -> str | None:
        """The one node running mfsmaster and holding the VIP, once the master accepts
        clients there (a node running `mfsmaster -a restore` runs mfsmaster too)."""
        from .scenarios import Client
        masters, holders = self.cluster.masters(), self.cluster.vip_holders()
        if len(masters) != 1 or holders != masters:
            return None
        return masters[0] if Client(self.cluster).master_serving() else None

    def settle(self, timeout: float = 60) -> str:
        return wait_for(self.master, timeout, 0.2, "one node with mfsmaster and the VIP")

    def log(self, node: str) -> str:
        try:
            return open(os.path.join(self.cluster.node_root(node), HOOK_LOG.lstrip("/")),
                        errors="replace").read()
        except OSError:
            return ""

    def data_path(self, node: str) -> str:
        return self.cluster.path_in(node, DATA_PATH)
