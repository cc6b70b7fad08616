"""How fresh this node's metadata is, told to peers, and asked of them.

Every node runs `mfsha-ucarp serve`: one line per TCP connection on FRESHNESS_PORT,
  mfsha-ucarp version=V metaid=HEX role=master|metalogger|none mark=V
where `version` is what this node's files restore to (moosefs.inspect, 0: nothing
restorable) and `mark` its local high-water mark. The up hook asks every peer with a
short timeout; a peer that does not answer in time is left out (it may be down).

The local high-water mark is the highest version this node knows a master reached: its
own master's, at promotion and at the clean stop; its own metalogger files' (a master
elsewhere came later); and any version or mark a peer of the same file system answered. Without a cluster this is as far as one node can know.
"""
from __future__ import annotations

import socket
import threading
from typing import NamedTuple

from ocf.state import StateFile

from .settings import Settings

ROLES = ("master", "metalogger", "none")


class Answer:
    """One node's freshness, as `serve` tells it."""

    def __init__(self, version: int, metaid: int, role: str, mark: int) -> None:
        self.version = version
        self.metaid = metaid
        self.role = role
        self.mark = mark

    def line(self) -> str:
        return "mfsha-ucarp version=%d metaid=%016X role=%s mark=%d\n" % (
            self.version, self.metaid, self.role, self.mark)

    @classmethod
    def parse(cls, text: str) -> "Answer | None":
        fields = dict(item.split("=", 1) for item in text.split()[1:] if "=" in item)
        if not text.startswith("mfsha-ucarp ") or fields.get("role") not in ROLES:
            return None
        try:
            return cls(int(fields["version"]), int(fields["metaid"], 16), fields["role"],
                       int(fields["mark"]))
        except (KeyError, ValueError):
            return None

    def same_filesystem(self, metaid: int) -> bool:
        return not metaid or not self.metaid or metaid == self.metaid


class Mark(NamedTuple):
    version: int
    metaid: int
    here: bool  # reached by this node's own master


class LocalMark:
    """This node's high-water mark: a state file in STATE_DIR."""

    def __init__(self, settings: Settings) -> None:
        self.file = StateFile(settings.text("STATE_DIR"), "high-water-mark")

    def read(self) -> Mark:
        values = self.file.read()
        try:
            return Mark(int(values.get("version", "0")), int(values.get("metaid", "0"), 16),
                        values.get("here") == "1")
        except ValueError:
            return Mark(0, 0, False)

    def known(self):
        """The mark as moosefs.history takes it (None: nothing recorded)."""
        from moosefs.history import Known
        version, _, here = self.read()
        return Known(version, here) if version else None

    def raise_to(self, version: int, metaid: int, here: bool, always: bool = False) -> bool:
        """Record `version` if it is higher (or `always`: a promotion); True if written."""
        current, current_id, _ = self.read()
        if not always and (version <= current or (current_id and metaid and metaid != current_id)):
            return False
        self.file.write({"version": str(version), "metaid": "%016X" % metaid,
                         "here": "1" if here else ""})
        return True


class Node:
    """This node's MooseFS config files and daemons, as the hook config names them."""

    def __init__(self, settings: Settings) -> None:
        from moosefs import config
        from moosefs.daemons import Master, Metalogger
        from .settings import SettingsError
        try:
            self.master_cfg = config.master(settings.text("MASTER_CFG"))
            self.metalogger_cfg = config.metalogger(settings.text("METALOGGER_CFG"))
        except config.ConfigError as error:
            raise SettingsError(str(error)) from None
        self.data_path = self.master_cfg.data_path
        self.master = Master(self.master_cfg.path, self.data_path)
        self.metalogger = Metalogger(self.metalogger_cfg.path, self.metalogger_cfg.data_path)

    def role(self) -> str:
        return "master" if self.master.pid() else "metalogger" if self.metalogger.pid() else "none"

    def inspect(self, mark: LocalMark):
        """What this node's files restore to, read with the local mark once this node's
        own metalogger files have raised it."""
        from moosefs.inspect import inspect
        self.learn_from_metalogger(mark)
        return inspect(self.data_path, known=mark.known())

    def learn_from_metalogger(self, mark: LocalMark) -> None:
        """This node's metalogger only ever follows a master at the virtual IP, and never
        while this node's own master runs: metalogger files that restore above the mark
        are the history of a master elsewhere that came later, which the mark follows."""
        from moosefs.history import Known
        from moosefs.inspect import inspect
        logged = inspect(self.data_path, known=Known(0, False))
        if logged.restorable and logged.source == "metalogger":
            mark.raise_to(logged.version, logged.metaid, here=False)

    def answer(self, mark: LocalMark) -> Answer:
        found = self.inspect(mark)
        version = found.version if found.restorable else 0
        return Answer(version, found.metaid if found.restorable else 0, self.role(),
                      mark.read().version)


def serve(settings: Settings, node: Node, log) -> None:
    """Answer peers until killed (`mfsha-ucarp serve`)."""
    import socketserver
    mark = LocalMark(settings)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                self.request.sendall(node.answer(mark).line().encode())
            except Exception as error:  # one peer's question must not end the responder
                log.warning("answering %s failed: %s" % (self.client_address[0], error))

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("", settings.port), Handler) as server:
        log.info("answering freshness on port %d" % settings.port)
        server.serve_forever()


def is_local(address: str) -> bool:
    """Is `address` one of this host's? (binding to a foreign address fails)"""
    try:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False


def ask(peer: str, port: int, timeout: float) -> Answer | None:
    try:
        with socket.create_connection((peer, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = b""
            while not data.endswith(b"\n") and len(data) < 512:
                chunk = sock.recv(512)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    return Answer.parse(data.decode("ascii", "replace").strip())


def ask_peers(settings: Settings) -> dict[str, Answer | None]:
    """Every peer's answer (None: no answer in QUERY_TIMEOUT), asked side by side."""
    peers = [p for p in settings.peers if not _resolves_locally(p)]
    answers: dict[str, Answer | None] = {}
    timeout = settings.number("QUERY_TIMEOUT")

    def one(peer: str) -> None:
        answers[peer] = ask(peer, settings.port, timeout)
    threads = [threading.Thread(target=one, args=(p,), daemon=True) for p in peers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    return {peer: answers.get(peer) for peer in peers}


def _resolves_locally(peer: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(peer, None, type=socket.SOCK_STREAM)}
    except OSError:
        return False
    return any(is_local(a) for a in addresses)
