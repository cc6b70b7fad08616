"""How fresh this node's metadata is, told to peers, and asked of them.

Every node runs `mfsha-ucarp serve`, which answers the configured peers on
FRESHNESS_PORT of this node's own peer address. A question and its answer are one line
each:
  mfsha-ucarp/2 ask nonce=N
  mfsha-ucarp/2 version=V metaid=HEX role=master|metalogger|none mark=V nonce=N tag=T
where `version` is what this node's files restore to (moosefs.inspect, 0: nothing
restorable), `mark` its local high-water mark, N a fresh random value of the asker and T
the HMAC-SHA256, under the shared secret (SECRET_FILE), of the answer before " tag=".
An answer whose tag or nonce is not right counts as no answer, never as a peer's state:
whoever else can listen on a peer's port (it is unprivileged) or take a dead peer's
address learns nothing and can make a peer look silent, nothing more. The up hook asks
every peer with a short timeout; a peer that does not answer in time is left out.

The local high-water mark is the highest version this node knows a master reached: its
own master's, at promotion and at the clean stop; its own metalogger files' (a master
elsewhere came later); and any version or mark an authenticated peer of the same file
system (the same metadata id, never 0) answered.
"""
from __future__ import annotations

import hmac
import socket
import threading
import time

from failover.mark import Freshness, raises, reached
from ocf.state import StateFile

from .settings import Settings, addresses_of, is_local

ROLES = ("master", "metalogger", "none")
PROTOCOL = "mfsha-ucarp/2"
QUESTION_BYTES = 128     # a question is one short line
ANSWER_BYTES = 512
QUESTION_SECONDS = 2.0   # a connection that asks nothing in this time is closed
ANSWER_REUSE_SECONDS = 1.0  # at most one inspection per this many seconds, however asked
MAX_CONVERSATIONS = 8    # answered at once; more are closed at once


def _tag(secret: bytes, body: str) -> str:
    import hashlib
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def question(nonce: str) -> bytes:
    return ("%s ask nonce=%s\n" % (PROTOCOL, nonce)).encode()


def parse_question(data: bytes) -> str | None:
    """The nonce of a well-formed question, else None."""
    words = data.decode("ascii", "replace").split()
    if len(words) != 3 or words[:2] != [PROTOCOL, "ask"] or not words[2].startswith("nonce="):
        return None
    nonce = words[2][len("nonce="):]
    return nonce if 16 <= len(nonce) <= 64 and nonce.isalnum() else None


class Answer:
    """One node's freshness, as `serve` tells it."""

    def __init__(self, version: int, metaid: int, role: str, mark: int) -> None:
        self.version = version
        self.metaid = metaid
        self.role = role
        self.mark = mark

    def line(self, secret: bytes, nonce: str) -> str:
        body = "%s version=%d metaid=%016X role=%s mark=%d nonce=%s" % (
            PROTOCOL, self.version, self.metaid, self.role, self.mark, nonce)
        return "%s tag=%s\n" % (body, _tag(secret, body))

    @classmethod
    def parse(cls, text: str, secret: bytes, nonce: str) -> "Answer | None":
        """The answer to the question with `nonce`, when its tag proves it; else None."""
        body, sep, tag = text.strip().rpartition(" tag=")
        if not sep or not hmac.compare_digest(_tag(secret, body), tag):
            return None
        words = body.split()
        fields = dict(item.split("=", 1) for item in words[1:] if "=" in item)
        if words[:1] != [PROTOCOL] or fields.get("nonce") != nonce or \
                fields.get("role") not in ROLES:
            return None
        try:
            return cls(int(fields["version"]), int(fields["metaid"], 16), fields["role"],
                       int(fields["mark"]))
        except (KeyError, ValueError):
            return None

    def freshness(self) -> Freshness:
        return Freshness(self.version, self.metaid)


class LocalMark:
    """This node's high-water mark (failover.mark.Freshness): a state file in STATE_DIR.
    `me` is this node's name in the mark: its own address in PEERS."""

    def __init__(self, settings: Settings, me: str | None = None) -> None:
        self.file = StateFile(settings.text("STATE_DIR"), "high-water-mark")
        self.me = me if me is not None else settings.bind_address()

    def read(self) -> Freshness | None:
        values = self.file.read()
        if "mark" in values:
            return Freshness.parse(values["mark"])
        try:  # the format before the mark named its node: version, metaid, here
            version = int(values.get("version", "0"))
            metaid = int(values.get("metaid", "0"), 16)
        except ValueError:
            return None
        if not version:
            return None
        return Freshness(version, metaid, self.me if values.get("here") == "1" else "")

    def known(self):
        """The mark as moosefs.history takes it (None: nothing recorded)."""
        mark = self.read()
        return mark.known(self.me) if mark else None

    def raise_to(self, reached: Freshness) -> bool:
        """Record `reached` by the one raise rule (failover.mark.raises); True if written."""
        if not raises(self.read(), reached):
            return False
        self.write(reached)
        return True

    def write(self, reached: Freshness) -> None:
        """Record `reached` whatever the mark was (a promotion: the election checked)."""
        self.file.write({"mark": reached.text()})

    def reached_here(self, data_path: str, version: int, metaid: int) -> Freshness:
        """The mark of this node's own master at `version` (failover.mark.reached)."""
        return reached(self.me, data_path, version, metaid)


def local_node(settings: Settings):
    """This node's MooseFS installation as the hook config names it."""
    from moosefs import config
    from moosefs.node import LocalNode
    from .settings import SettingsError
    try:
        return LocalNode(settings.text("MASTER_CFG"), settings.text("METALOGGER_CFG"))
    except config.ConfigError as error:
        raise SettingsError(str(error)) from None


def learn_from_metalogger(node, mark: LocalMark) -> None:
    """This node's metalogger only ever follows a master at the virtual IP, and never
    while this node's own master runs: metalogger files that restore above the mark
    are the history of a master elsewhere that came later, which the mark follows."""
    from moosefs.history import Known
    from moosefs.inspect import inspect
    logged = inspect(node.data_path, known=Known(0, False))
    if logged.restorable and logged.source == "metalogger":
        mark.raise_to(Freshness(logged.version, logged.metaid))


def inspect_here(node, mark: LocalMark, store=None):
    """(Freshness or None, inspection) of this node's files, read with the local mark
    once this node's own metalogger files have raised it."""
    from failover.steps import inspect_own
    learn_from_metalogger(node, mark)
    return inspect_own(node, mark.read(), mark.me, store)


def answer_of(node, mark: LocalMark, store=None) -> tuple[Answer, object]:
    """(what this node tells its peers, the inspection it rests on)."""
    own, found = inspect_here(node, mark, store)
    current = mark.read()
    return Answer(own.version if own else 0, own.metaid if own else 0, node.role(),
                  current.version if current else 0), found


class Responder:
    """What `serve` tells: one inspection per ANSWER_REUSE_SECONDS at most, however
    many questions come. `on_inspected(found)` sees each inspection (the metalogger's
    hole restart)."""

    def __init__(self, node, mark: LocalMark, store=None, on_inspected=None) -> None:
        self.node = node
        self.mark = mark
        self.store = store
        self.on_inspected = on_inspected
        self.lock = threading.Lock()
        self.cached: Answer | None = None
        self.cached_at = 0.0

    def current(self) -> Answer:
        with self.lock:
            if self.cached is None or time.monotonic() - self.cached_at >= ANSWER_REUSE_SECONDS:
                self.cached, found = answer_of(self.node, self.mark, self.store)
                self.cached_at = time.monotonic()
                if self.on_inspected is not None:
                    self.on_inspected(found)
            return self.cached


def serve(settings: Settings, responder: Responder, log) -> None:
    """Answer the configured peers until killed (`mfsha-ucarp serve`)."""
    import socketserver
    secret = settings.secret()
    allowed = peer_addresses(settings)
    address = settings.bind_address()
    slots = threading.BoundedSemaphore(MAX_CONVERSATIONS)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            who = self.client_address[0]
            if who not in allowed:
                return  # not a configured peer: closed without a word
            if not slots.acquire(blocking=False):
                return
            try:
                self.request.settimeout(QUESTION_SECONDS)
                nonce = parse_question(_read_line(self.request, QUESTION_BYTES))
                if nonce is not None:
                    self.request.sendall(responder.current().line(secret, nonce).encode())
            except Exception as error:  # one peer's question must not end the responder
                log.warning("answering %s failed: %s" % (who, error))
            finally:
                slots.release()

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server_class = type("Server", (socketserver.ThreadingTCPServer,),
                        {"address_family": family, "allow_reuse_address": True,
                         "daemon_threads": True})
    with server_class((address, settings.port), Handler) as server:
        log.info("answering freshness on %s port %d to %s" % (address, settings.port,
                                                              ", ".join(sorted(allowed))))
        server.serve_forever()


def peer_addresses(settings: Settings) -> set[str]:
    """Every address the configured peers resolve to."""
    return {address for peer in settings.peers for address in addresses_of(peer)}


def _read_line(sock, limit: int) -> bytes:
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = sock.recv(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


def ask(peer: str, port: int, timeout: float, secret: bytes) -> tuple[Answer | None, str]:
    """(the peer's proven answer or None, why there is none)."""
    import secrets
    nonce = secrets.token_hex(16)
    try:
        with socket.create_connection((peer, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(question(nonce))
            data = _read_line(sock, ANSWER_BYTES)
    except OSError as error:
        return None, "no answer (%s)" % (error.strerror or error or "timed out")
    if not data:
        return None, "no answer"
    answer = Answer.parse(data.decode("ascii", "replace"), secret, nonce)
    if answer is None:
        return None, "an answer without a valid tag (another secret, or not mfsha-ucarp)"
    return answer, ""


def ask_peers(settings: Settings, log=None) -> dict[str, Answer | None]:
    """Every peer's answer (None: none in QUERY_TIMEOUT, or not proven), asked side by
    side; why a peer counts as silent goes to `log`."""
    peers = [p for p in settings.peers if not _resolves_locally(p)]
    replies: dict[str, tuple[Answer | None, str]] = {}
    timeout = settings.number("QUERY_TIMEOUT")
    secret = settings.secret()

    def one(peer: str) -> None:
        replies[peer] = ask(peer, settings.port, timeout, secret)
    threads = [threading.Thread(target=one, args=(p,), daemon=True) for p in peers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    answers = {}
    for peer in peers:
        answer, why = replies.get(peer, (None, "no answer in time"))
        if answer is None and log is not None and why.startswith("an answer"):
            log.warning("peer %s counts as silent: %s" % (peer, why))
        answers[peer] = answer
    return answers


def _resolves_locally(peer: str) -> bool:
    return any(is_local(a) for a in addresses_of(peer))
