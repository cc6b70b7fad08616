"""Which metaloggers keep up with this master, read from the kernel's TCP state.

A metalogger streams every change from the master's MATOML_LISTEN_PORT, without
acknowledging anything to MooseFS; only TCP acknowledges. A stream whose bytes the
peer's kernel does not acknowledge (the peer is cut off, frozen with a full receive
window, or dead) has unacknowledged bytes and a running retransmission or
zero-window timer. The kernel tells this through its socket-diagnostics netlink
interface (sock_diag, as `ss` asks it). A listing of every stream walks the kernel's
whole socket table; asking for the streams known from the last listing is one hash
lookup each, cheap enough for every Promoted monitor. Where sock_diag is not
available, /proc/net/tcp serves (the same walk, as text).
"""
from __future__ import annotations

_ESTABLISHED = "01"
_TIMER_ZERO_WINDOW = 4
# MooseFS listens on IPv4 only; each table read walks the kernel's whole socket hash.
_TABLES = ("/proc/net/tcp",)


class Stream:
    __slots__ = ("local", "peer", "unacked", "retransmits", "timer", "established")

    def __init__(self, local: str, peer: str, unacked: int, retransmits: int,
                 timer: int, established: bool = True) -> None:
        self.established = established
        self.local = local              # ip:port of the master's end
        self.peer = peer                # ip:port of the metalogger
        self.unacked = unacked          # bytes sent and not acknowledged
        self.retransmits = retransmits  # retransmissions (or zero-window probes) unanswered
        self.timer = timer              # the socket's running timer (/proc/net/tcp "tr")

    @property
    def stalled(self) -> bool:
        """Bytes wait and the peer does not answer: retransmitted or probed."""
        return self.unacked > 0 and (self.retransmits > 0 or self.timer == _TIMER_ZERO_WINDOW)

    @property
    def key(self) -> str:
        """How `check` finds this stream again."""
        return "%s>%s" % (self.local, self.peer)


def streams(port: int) -> list[Stream]:
    """Every established connection to local TCP port `port`."""
    try:
        return _diag(port, None)
    except OSError:
        return _proc_streams(port)


def check(port: int, known: list[str], wanted: int) -> list[Stream]:
    """The streams at `port`: the `known` ones (Stream.key) looked up one by one when
    there are at least `wanted` of them and all keep up, else a whole listing."""
    if len(known) >= wanted:
        try:
            found = [_diag(port, key) for key in known]
        except OSError:
            found = []
        if found and all(found) and not any(s[0].stalled for s in found):
            return [s[0] for s in found]
    return streams(port)


_SOCK_DIAG = 4             # NETLINK_SOCK_DIAG
_BY_FAMILY = 20            # SOCK_DIAG_BY_FAMILY
_REQUEST, _DUMP = 0x1, 0x300
_DONE, _ERROR = 3, 2       # NLMSG_DONE, NLMSG_ERROR
_TCP_ESTABLISHED = 1
_ESTABLISHED_BIT = 1 << _TCP_ESTABLISHED
_NO_COOKIE = b"\xff" * 8   # INET_DIAG_NOCOOKIE


def _diag(port: int, key: str | None) -> list[Stream]:
    """sock_diag (linux/inet_diag.h: inet_diag_req_v2 out, inet_diag_msg back): every
    established IPv4 socket of local `port`, or the one socket of `key` (a list of one,
    or empty when it is gone)."""
    import _socket
    import struct
    if key is None:
        identity, flags = bytes(48), _REQUEST | _DUMP
    else:
        local, peer = key.split(">")
        (local_ip, local_port), (peer_ip, peer_port) = (
            (_socket.inet_aton(a), int(p)) for a, p in (e.rsplit(":", 1) for e in (local, peer)))
        identity = struct.pack(">HH", local_port, peer_port) + local_ip + bytes(12) + \
            peer_ip + bytes(12) + bytes(4) + _NO_COOKIE
        flags = _REQUEST
    request = struct.pack("=BBBBI", _socket.AF_INET, _socket.IPPROTO_TCP, 0, 0,
                          _ESTABLISHED_BIT) + identity
    header = struct.pack("=IHHII", 16 + len(request), _BY_FAMILY, flags, 1, 0)
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, _SOCK_DIAG)
    found = []
    try:
        sock.settimeout(2.0)
        sock.sendall(header + request)
        done = False
        while not done:
            data = sock.recv(1 << 16)
            done = not data or key is not None  # a lookup is answered in one message
            at = 0
            while at + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, at)
                if kind == _DONE:
                    done = True
                    break
                if kind == _ERROR:
                    error = -struct.unpack_from("=i", data, at + 16)[0]
                    if key is not None and error == 2:  # ENOENT: that stream is gone
                        return []
                    raise OSError(error, "sock_diag answered an error")
                if length < 16:
                    raise OSError("sock_diag answered a short message")
                found.append(_stream(data, at + 16, struct))
                at += (length + 3) & ~3
    finally:
        sock.close()
    # A lookup of a stream that is gone finds the listening socket instead: only an
    # established stream of that very key counts.
    return [s for s in found if s.established and s.local.endswith(":%d" % port)
            and (key is None or s.key == key)]


def _stream(data: bytes, body: int, struct) -> Stream:
    state, timer, retransmits = struct.unpack_from("=BBB", data, body + 1)
    local_port, peer_port = struct.unpack_from(">HH", data, body + 4)
    local = ".".join(str(b) for b in data[body + 8:body + 12])
    peer = ".".join(str(b) for b in data[body + 24:body + 28])
    unacked = struct.unpack_from("=I", data, body + 60)[0]  # idiag_wqueue
    return Stream("%s:%d" % (local, local_port), "%s:%d" % (peer, peer_port), unacked,
                  retransmits, timer, state == _TCP_ESTABLISHED)


def _proc_streams(port: int, tables: tuple[str, ...] = _TABLES) -> list[Stream]:
    found = []
    for table in tables:
        try:
            with open(table) as stream:
                lines = stream.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 7 or fields[3] != _ESTABLISHED:
                continue
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            tx_queue = int(fields[4].split(":")[0], 16)
            timer = int(fields[5].split(":")[0], 16)
            found.append(Stream(_address(local), _address(remote), tx_queue,
                                int(fields[6], 16), timer))
    return found


def _address(hex_address: str) -> str:
    """ip:port from /proc/net/tcp's little-endian hex (IPv4; IPv6 shown in hex)."""
    host, port = hex_address.rsplit(":", 1)
    if len(host) == 8:
        ip = ".".join(str(int(host[i:i + 2], 16)) for i in (6, 4, 2, 0))
    else:
        ip = host
    return "%s:%d" % (ip, int(port, 16))
