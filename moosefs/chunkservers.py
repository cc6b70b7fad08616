"""The chunkservers a running mfsmaster knows, and which of them are connected.

Asked over the master's client port, as `mfscli -SCS` asks (CLTOMA_CSERV_LIST): one
packet each way, a few milliseconds. The master knows every chunkserver from its
metadata, including those that have not connected since it started; a client reading
a chunk whose copies are all on such a server gets no locations and waits 10 s
(mfsclient/readdata.c), so this list says when clients can be let in.
"""
from __future__ import annotations

import struct

CLTOMA_CSERV_LIST = 500
MATOCL_CSERV_LIST = 501
# Bytes per server in the answer (mfsmaster/csdb.c, csdb_servlist_data): 4.x added the
# server's address as seen by the asking client.
RECORD_BYTES = {3: 69, 4: 73}
# The top byte of each record's first word holds flags.
FLAG_DISCONNECTED = 1
FLAG_MAINTENANCE = 2
_MAX_ANSWER = 64 << 20


class ListError(Exception):
    pass


class Refused(ListError):
    """Nothing listens at that address."""


class Chunkserver:
    __slots__ = ("address", "connected", "maintenance")

    def __init__(self, address: str, connected: bool, maintenance: bool) -> None:
        self.address = address  # ip:port its clients use
        self.connected = connected
        self.maintenance = maintenance

    def __eq__(self, other) -> bool:
        return isinstance(other, Chunkserver) and (self.address, self.connected,
                                                   self.maintenance) == (
            other.address, other.connected, other.maintenance)

    def __repr__(self) -> str:
        return "Chunkserver(%r, connected=%s, maintenance=%s)" % (
            self.address, self.connected, self.maintenance)


def listed(host: str, port: int, major: int, timeout: float = 1.0) -> list[Chunkserver]:
    """The master's chunkservers, asked at host:port; `major` is MooseFS's (3 or 4)."""
    size = RECORD_BYTES.get(major)
    if size is None:
        raise ListError("no chunkserver list format known for MooseFS %d" % major)
    answer = _ask(host, port, timeout)
    if len(answer) % size:
        raise ListError("chunkserver list of %d bytes is not whole %d-byte records"
                        % (len(answer), size))
    return [_record(answer[at:at + size], major) for at in range(0, len(answer), size)]


def check_answers(host: str, port: int, timeout: float) -> None:
    """Prove that the master at host:port serves requests: one chunkserver-list request
    answered within `timeout` s, or ListError (Refused when nothing listens
    there). A TCP connect alone proves nothing: the kernel completes handshakes
    into the listen backlog of a stopped or hung master."""
    from .daemons import dialable
    _ask(dialable(host), port, timeout)


def missing(servers: list[Chunkserver]) -> list[Chunkserver]:
    """Known servers not connected, apart from those an administrator put in maintenance."""
    return [s for s in servers if not s.connected and not s.maintenance]


def wait_connected(host: str, port: int, major: int, after_first_s: float, until: float,
                   poll_s: float = 0.05) -> list[Chunkserver]:
    """Ask every `poll_s` until every known server is connected; once one is, wait at
    most `after_first_s` more for the others (they all reconnect within about 2 s of
    finding the master, masterconn.c); while none is, until the wall-clock time
    `until`. Returns those still missing."""
    import time
    first = None
    while True:
        servers = listed(host, port, major)
        late, now = missing(servers), time.time()
        if not late:
            return []
        if first is None and any(s.connected for s in servers):
            first = now
        give_up = until if first is None else first + after_first_s
        if now >= give_up:
            return late
        time.sleep(min(poll_s, give_up - now))


def _record(data: bytes, major: int) -> Chunkserver:
    flags = data[0]
    ip = data[4:8]
    port_at = 8 if major == 3 else 12  # 4.x: ip, then the ip as mapped for the client
    port, = struct.unpack(">H", data[port_at:port_at + 2])
    return Chunkserver("%d.%d.%d.%d:%d" % (tuple(ip) + (port,)),
                       not flags & FLAG_DISCONNECTED, bool(flags & FLAG_MAINTENANCE))


def _ask(host: str, port: int, timeout: float) -> bytes:
    import _socket
    sock = _socket.socket(_socket.AF_INET6 if ":" in host else _socket.AF_INET,
                          _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.sendall(struct.pack(">II", CLTOMA_CSERV_LIST, 0))
        kind, length = struct.unpack(">II", _read(sock, 8))
        if kind != MATOCL_CSERV_LIST or length > _MAX_ANSWER:
            raise ListError("unexpected answer %d (%d bytes) to a chunkserver list request"
                            % (kind, length))
        return _read(sock, length)
    except ConnectionRefusedError as error:
        raise Refused("asking %s:%d for its chunkservers: %s" % (host, port, error)) from None
    except OSError as error:  # socket.timeout included
        raise ListError("asking %s:%d for its chunkservers: %s"
                        % (host, port, error or "timed out")) from None
    finally:
        sock.close()


def _read(sock, count: int) -> bytes:
    parts = []
    while count:
        part = sock.recv(min(count, 1 << 20))
        if not part:
            raise OSError("connection closed by the master")
        parts.append(part)
        count -= len(part)
    return b"".join(parts)
