"""When a process in a lab node opens a new TCP connection to an address: read from the
host, through /proc, without entering the node (cheap enough to poll every 20 ms)."""
from __future__ import annotations

import os
import socket
import struct

ESTABLISHED = "01"


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                found.add(link[8:-1])
    except OSError:
        pass
    return found


def _hex_endpoint(ip: str, port: int) -> str:
    """An IPv4 endpoint as /proc/net/tcp writes it: the address in host byte order."""
    address = struct.unpack("<I", socket.inet_aton(ip))[0]
    return "%08X:%04X" % (address, port)


def established_to(pid: int, ip: str, port: int) -> set[str]:
    """Socket inodes of `pid` with an established connection to ip:port."""
    mine = _socket_inodes(pid)
    wanted = _hex_endpoint(ip, port)
    found = set()
    try:
        with open("/proc/%d/net/tcp" % pid) as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[2] == wanted and fields[3] == ESTABLISHED and fields[9] in mine:
                    found.add(fields[9])
    except (OSError, StopIteration):
        pass
    return found
