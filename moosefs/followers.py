"""Which metaloggers keep up with this master, read from the kernel's TCP table.

A metalogger streams every change from the master's MATOML_LISTEN_PORT, without
acknowledging anything to MooseFS; only TCP acknowledges. A stream whose bytes the
peer's kernel does not acknowledge (the peer is cut off, frozen with a full receive
window, or dead) has unacknowledged bytes and a running retransmission or
zero-window timer. The kernel tells this through its socket-diagnostics netlink
interface (sock_diag, as `ss` asks it: 2 ms here) or, where that is not available,
/proc/net/tcp (4 ms: it is formatted as text), both cheap enough for every Promoted
monitor.
"""
from __future__ import annotations

_ESTABLISHED = "01"
_TIMER_RETRANSMIT = 1
_TIMER_ZERO_WINDOW = 4
# MooseFS listens on IPv4 only; each table read walks the kernel's whole socket hash.
_TABLES = ("/proc/net/tcp",)


class Stream:
    __slots__ = ("peer", "unacked", "retransmits", "timer")

    def __init__(self, peer: str, unacked: int, retransmits: int, timer: int) -> None:
        self.peer = peer                # ip:port of the metalogger
        self.unacked = unacked          # bytes sent and not acknowledged
        self.retransmits = retransmits  # retransmissions (or zero-window probes) unanswered
        self.timer = timer              # the socket's running timer (/proc/net/tcp "tr")

    @property
    def stalled(self) -> bool:
        """Bytes wait and the peer does not answer: retransmitted or probed."""
        return self.unacked > 0 and (self.retransmits > 0 or self.timer == _TIMER_ZERO_WINDOW)


def streams(port: int) -> list[Stream]:
    """Established connections to local TCP port `port` (the master's metalogger port)."""
    try:
        return _diag_streams(port)
    except OSError:
        return _proc_streams(port)


_SOCK_DIAG = 4             # NETLINK_SOCK_DIAG
_BY_FAMILY = 20            # SOCK_DIAG_BY_FAMILY
_DUMP_REQUEST = 0x301      # NLM_F_REQUEST | NLM_F_DUMP
_DONE, _ERROR = 3, 2       # NLMSG_DONE, NLMSG_ERROR
_ESTABLISHED_BIT = 1 << 1  # TCPF_ESTABLISHED


def _diag_streams(port: int) -> list[Stream]:
    """The established IPv4 TCP sockets of local port `port`, from sock_diag
    (linux/inet_diag.h: inet_diag_req_v2 out, inet_diag_msg back)."""
    import _socket
    import struct
    request = struct.pack("=BBBBI", _socket.AF_INET, _socket.IPPROTO_TCP, 0, 0,
                          _ESTABLISHED_BIT) + bytes(48)
    header = struct.pack("=IHHII", 16 + len(request), _BY_FAMILY, _DUMP_REQUEST, 1, 0)
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, _SOCK_DIAG)
    found = []
    try:
        sock.settimeout(2.0)
        sock.sendall(header + request)
        while True:
            data = sock.recv(1 << 16)
            at = 0
            while at + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, at)
                if kind == _DONE:
                    return found
                if kind == _ERROR or length < 16:
                    raise OSError("sock_diag answered an error")
                body = at + 16
                timer, retransmits = struct.unpack_from("=BB", data, body + 2)
                local_port, peer_port = struct.unpack_from(">HH", data, body + 4)
                peer = ".".join(str(b) for b in data[body + 24:body + 28])
                unacked = struct.unpack_from("=I", data, body + 60)[0]  # idiag_wqueue
                if local_port == port:
                    found.append(Stream("%s:%d" % (peer, peer_port), unacked, retransmits,
                                        timer))
                at += (length + 3) & ~3
            if not data:
                return found
    finally:
        sock.close()


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
            found.append(Stream(_address(remote), tx_queue, int(fields[6], 16), timer))
    return found


def _address(hex_address: str) -> str:
    """ip:port from /proc/net/tcp's little-endian hex (IPv4; IPv6 shown in hex)."""
    host, port = hex_address.rsplit(":", 1)
    if len(host) == 8:
        ip = ".".join(str(int(host[i:i + 2], 16)) for i in (6, 4, 2, 0))
    else:
        ip = host
    return "%s:%d" % (ip, int(port, 16))


def keeping_up(port: int) -> tuple[list[Stream], list[Stream]]:
    """(streams keeping up, stalled streams) at the master's metalogger port."""
    found = streams(port)
    return [s for s in found if not s.stalled], [s for s in found if s.stalled]
