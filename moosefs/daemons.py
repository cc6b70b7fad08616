"""Start, stop and tell the state of mfsmaster and mfsmetalogger, cheaply.

State comes from the daemon's lock file in DATA_PATH: the owner of its fcntl lock
(/proc/locks, no process table scan, no CLI) is the running daemon. A lock file whose
recorded PID holds no lock belongs to a process that is gone; the fcntl lock died
with it, so it never blocks a start.
"""
from __future__ import annotations

import os
import time

from procrun import SIGKILL, SIGTERM


class DaemonError(Exception):
    pass


def lock_owner(lock_path: str) -> int:
    """PID holding a POSIX write lock on `lock_path`, 0 if none.

    Read from /proc/locks rather than F_GETLK: the layout of struct flock differs between
    Debian's architectures, and this package is Architecture: all."""
    try:
        # The lock file is in DATA_PATH: never through a link, never blocked by a FIFO.
        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        identity = os.fstat(fd)
        with open("/proc/locks") as stream:
            table = stream.read()
    except OSError:
        return 0
    finally:
        os.close(fd)
    return writer_of(table, identity)


def writer_of(table: str, identity: os.stat_result) -> int:
    """The PID of the POSIX write lock in /proc/locks text `table` on the file whose
    fstat is `identity`, 0 if none.

    A line reads `1: POSIX  ADVISORY  WRITE 6367 fe:00:2147212 0 EOF` (device in hex,
    inode in decimal); waiters carry `->` and hold nothing. Where the lock's device is
    not the one stat reports (an overlay file system), the holder must have the very
    file open."""
    device = "%02x:%02x" % (os.major(identity.st_dev), os.minor(identity.st_dev))
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue  # waiters ("->"), flock and OFD locks, read locks
        lock_device, _, inode = fields[5].rpartition(":")
        if not inode.isdigit() or int(inode) != identity.st_ino or not fields[4].isdigit():
            continue
        pid = int(fields[4])
        if lock_device == device or holds_open(pid, identity):
            return pid
    return 0


def holds_open(pid: int, identity: os.stat_result) -> bool:
    """Has process `pid` the file of `identity` open?"""
    folder = "/proc/%d/fd" % pid
    try:
        descriptors = os.listdir(folder)
    except OSError:
        return False
    for name in descriptors:
        try:
            found = os.stat(os.path.join(folder, name))
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (identity.st_dev, identity.st_ino):
            return True
    return False


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        with open("/proc/%d/stat" % pid) as stream:
            state = stream.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


class Daemon:
    """One MooseFS daemon given by its binary and config file."""

    lock_name = ""
    binary = ""

    def __init__(self, cfg_path: str, data_path: str, binary: str | None = None) -> None:
        self.cfg_path = cfg_path
        self.data_path = data_path
        if binary:
            self.binary = binary

    @property
    def lock_path(self) -> str:
        return os.path.join(self.data_path, self.lock_name)

    def pid(self) -> int:
        return lock_owner(self.lock_path)

    def start(self, deadline_s: float, cfg_path: str | None = None) -> None:
        """Start from `cfg_path` when given (a copy of the config; see moosefs.clienthold)."""
        from procrun import run
        if self.pid():
            return
        result = run([self.binary, "-c", cfg_path or self.cfg_path, "start"], deadline_s)
        if not result.ok or not self.pid():
            raise DaemonError("starting %s failed: %s" % (self.binary, result.describe()))

    def stop(self, deadline_s: float, term_share: float = 0.8, after_term=None) -> bool:
        """SIGTERM, wait, then SIGKILL. Returns True when it stopped cleanly.
        `after_term(pid)` runs right after the SIGTERM."""
        from signal import SIGCONT  # its number differs between architectures
        pid = self.pid()
        if not pid:
            return True
        started = time.monotonic()
        _signal(pid, SIGTERM)
        # A stopped or frozen daemon handles SIGTERM only once continued (as systemd
        # does): a SIGSTOPped metalogger otherwise held promote for the whole wait.
        _signal(pid, SIGCONT)
        if after_term is not None:
            after_term(pid)
        clean = _wait_gone(self.lock_path, pid, started + deadline_s * term_share)
        if clean:
            return True
        _signal(pid, SIGKILL)
        for other in _group_members(pid):
            _signal(other, SIGKILL)
        if not _wait_gone(self.lock_path, pid, started + deadline_s):
            raise DaemonError("%s (pid %d) did not exit even after SIGKILL" % (self.binary, pid))
        return False


class Master(Daemon):
    lock_name = ".mfsmaster.lock"
    binary = "mfsmaster"

    def stop_fast(self, deadline_s: float) -> tuple[bool, bool]:
        """A clean stop without mfsmaster's 2-3 s wait: (clean, fast).

        After SIGTERM mfsmaster keeps serving and only on the third tick of a 1-s timer
        asks its "data writer" child to end (mfsmaster/bgsaver.c); once that child is
        gone it stores metadata.mfs and exits. Killing exactly that child right after
        SIGTERM starts the same teardown at once (undocumented behaviour of 3.0 and 4.x;
        the master still stores a complete metadata.mfs). The lines still in
        the pipe to the writer are then missing from this node's own changelog, never
        from metadata.mfs; the caller proves the result (the next master must reach
        the version stored here). The "(metadata saver)" child is never touched, and
        when no writer is found this is the plain stop. `fast` says which it was.
        """
        ended = []

        def end_writer(pid: int) -> None:
            writer = data_writer(pid)
            if writer:
                _signal(writer, SIGKILL)
                ended.append(writer)
        clean = self.stop(deadline_s, after_term=end_writer)
        return clean, bool(ended)


class Metalogger(Daemon):
    lock_name = ".mfsmetalogger.lock"
    binary = "mfsmetalogger"


def dialable(host: str) -> str:
    """The address to connect to for a LISTEN_HOST: a wildcard is reached on loopback."""
    return "127.0.0.1" if host in ("*", "", "0.0.0.0") else host


def serving(host: str, port: int, timeout: float = 1.0) -> bool:
    """Does something accept TCP connections at host:port?"""
    import _socket
    host = dialable(host)
    try:
        sock = _socket.socket(_socket.AF_INET6 if ":" in host else _socket.AF_INET,
                              _socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def wait_serving(host: str, port: int, deadline) -> bool:
    """Wait until something accepts connections at host:port or `deadline` (remaining())
    has passed; polled every 50 ms, since a fresh master binds within a second."""
    while not serving(host, port):
        if deadline.remaining() <= 0:
            return False
        time.sleep(0.05)
    return True


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


# A metalogger exits within a few ms of SIGTERM and promote waits for it, so the poll is
# short: a few system calls per turn.
GONE_POLL_S = 0.005


def _wait_gone(lock_path: str, pid: int, until: float) -> bool:
    while time.monotonic() < until:
        if not process_alive(pid) and lock_owner(lock_path) != pid:
            return True
        time.sleep(GONE_POLL_S)
    return not process_alive(pid)


DATA_WRITER_SUFFIX = " (data writer)"  # mfsmaster's title for the child (bgsaver.c)


def data_writer(master_pid: int) -> int:
    """PID of the master's data-writer child, 0 when there is none."""
    for child in _group_members(master_pid):
        try:
            with open("/proc/%d/cmdline" % child, "rb") as stream:
                title = stream.read().replace(b"\0", b" ").strip().decode("latin-1")
        except OSError:
            continue
        if title.endswith(DATA_WRITER_SUFFIX) and "mfsmaster" in title:
            return child
    return 0


def _group_members(pid: int) -> list[int]:
    """Children of `pid` (mfsmaster forks a metadata writer)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as stream:
                    fields = stream.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    members.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return members
