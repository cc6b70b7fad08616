"""Start mfsmaster closed to clients, and let them in later.

A client that reaches a new master before every chunkserver has registered gets no
locations for the chunks held only by the missing ones, and retries such a read only
after 10 s (mfsclient/readdata.c). A master started from `write_closed`'s copy of its
config listens for clients on a free loopback port only: chunkservers and metaloggers
connect as usual, a client at the real address is refused at once and tries again in
its next 2-s slot (mfsclient/mastercomm.c). `open_to_clients` then replaces the copy by
a symlink to the administrator's file and sends SIGHUP: mfsmaster reads it again and
moves its client listener (matoclserv_reload, 3.0 and 4.x). From then on the master
reads the administrator's file on every reload, exactly as if started from it.

The held port differs from the real one because the reload binds the new listener
before closing the old: 127.0.0.1 and * on one port would clash.
"""
from __future__ import annotations

import os

from .config import Config

HOLD_HOST = "127.0.0.1"
# The client listener's keys, the 1.6 names included: the copy sets its own.
CLIENT_LISTEN_KEYS = ("MATOCL_LISTEN_HOST", "MATOCL_LISTEN_PORT",
                      "MATOCU_LISTEN_HOST", "MATOCU_LISTEN_PORT")


def unreadable_reason(cfg: Config) -> str | None:
    """Why the master, once it runs as WORKING_USER, could not read the administrator's
    file again on reload (None: it can)."""
    from .owner import UnknownOwner, of_config
    try:
        owner = of_config(cfg)
        status = os.stat(cfg.path)
    except (UnknownOwner, OSError) as error:
        return "cannot tell whether %s can read %s: %s" % (cfg.working_user, cfg.path, error)
    if owner.may_read(status):
        return None
    return "%s (mode %o) is not readable by WORKING_USER %s" % (
        cfg.path, status.st_mode & 0o777, cfg.working_user)


def free_port(host: str = HOLD_HOST) -> int:
    import _socket
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def write_closed(cfg: Config, path: str) -> int:
    """Write at `path` the config of `cfg` with the client listener on a free loopback
    port; returns that port."""
    port = free_port()
    with open(cfg.path) as stream:
        lines = stream.read().splitlines()
    kept = [line for line in lines if _key(line) not in CLIENT_LISTEN_KEYS]
    kept += ["# mfsha: clients held off until the chunkservers are back (%s)" % cfg.path,
             "MATOCL_LISTEN_HOST = %s" % HOLD_HOST, "MATOCL_LISTEN_PORT = %d" % port, ""]
    _replace(path, lambda temporary: _write_like(temporary, "\n".join(kept), cfg.path))
    return port


def open_to_clients(cfg: Config, path: str, master_pid: int) -> None:
    """Point `path` at the administrator's config and have the master read it again.
    ProcessLookupError when no master runs as `master_pid`."""
    from signal import SIGHUP
    if master_pid <= 0:  # kill(0) would signal our own process group
        raise ProcessLookupError("no mfsmaster to reload")
    _replace(path, lambda temporary: os.symlink(os.path.abspath(cfg.path), temporary))
    os.kill(master_pid, SIGHUP)


def _key(line: str) -> str:
    return line.split("#", 1)[0].partition("=")[0].strip()


def _write_like(path: str, text: str, model: str) -> None:
    """Write `text` with the owner and mode of `model`: it may hold AUTH_CODE."""
    status = os.stat(model)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(text)
    os.chown(path, status.st_uid, status.st_gid)
    os.chmod(path, status.st_mode & 0o777)


def _replace(path: str, make) -> None:
    """Build the new file beside `path` with `make(temporary)`, then rename it over."""
    temporary = "%s.%d.new" % (path, os.getpid())
    if os.path.lexists(temporary):
        os.unlink(temporary)
    make(temporary)
    os.replace(temporary, path)
