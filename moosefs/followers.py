"""Which metaloggers keep up with this master, read from the kernel's TCP table.

A metalogger streams every change from the master's MATOML_LISTEN_PORT, without
acknowledging anything to MooseFS; only TCP acknowledges. A stream whose bytes the
peer's kernel does not acknowledge (the peer is cut off, frozen with a full receive
window, or dead) has unacknowledged bytes and a running retransmission or
zero-window timer (/proc/net/tcp: tx_queue, tr, retrnsmt). Reading the table is a
file read, cheap enough for every Promoted monitor.
"""
from __future__ import annotations

from typing import NamedTuple

_ESTABLISHED = "01"
_TIMER_RETRANSMIT = 1
_TIMER_ZERO_WINDOW = 4
_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


class Stream(NamedTuple):
    peer: str          # ip:port of the metalogger
    unacked: int       # bytes sent and not acknowledged
    retransmits: int   # retransmissions (or zero-window probes) without an answer
    timer: int         # the socket's running timer (/proc/net/tcp "tr")

    @property
    def stalled(self) -> bool:
        """Bytes wait and the peer does not answer: retransmitted or probed."""
        return self.unacked > 0 and (self.retransmits > 0 or self.timer == _TIMER_ZERO_WINDOW)


def streams(port: int, tables: tuple[str, ...] = _TABLES) -> list[Stream]:
    """Established connections to local TCP port `port` (the master's metalogger port)."""
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
