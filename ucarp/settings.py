"""The hook config (/etc/mfs/mfsha-ucarp.cfg, `KEY = VALUE` lines as in MooseFS's own
files) and the checks of ucarp's arguments. Nothing here changes the system."""
from __future__ import annotations

import ipaddress
import os
import socket

DEFAULT_PATH = "/etc/mfs/mfsha-ucarp.cfg"

DEFAULTS = {
    "MASTER_CFG": "/etc/mfs/mfsmaster.cfg",
    "METALOGGER_CFG": "/etc/mfs/mfsmetalogger.cfg",
    "PEERS": "",                 # every node's address or name; this node's own is skipped
    "FRESHNESS_PORT": "9429",     # where `mfsha-ucarp serve` answers on every node
    "BIND_ADDRESS": "",           # where it listens; default: this node's own address in PEERS
    "SECRET_FILE": "/etc/mfs/mfsha-ucarp.secret",  # the peers' shared secret, root-only
    "QUERY_TIMEOUT": "0.5",       # seconds to wait for one peer's answer
    "VIP_PREFIX": "32",
    "SETTLE_TIME": "1.5",         # at least ucarp's --advbase: see ucarp.hooks
    "START_TIMEOUT": "120",       # restore and start of mfsmaster
    "STOP_TIMEOUT": "60",         # clean stop of mfsmaster or mfsmetalogger
    "STATE_DIR": "/var/lib/mfsha-ucarp",
    "ARCHIVE_DIR": "",            # default: DATA_PATH-archive, as the Pacemaker agent's
    "ARCHIVE_KEEP": "20",         # archives kept; the oldest beyond are removed
    "ARCHIVE_MAX_MB": "10240",    # their total size kept (the newest always stays)
    "FAST_STOP": "1",             # end mfsmaster's data writer right after SIGTERM (no 3-s wait)
    "LOG_FILE": "/var/log/mfsha-ucarp.log",
    "SYSLOG_FACILITY": "daemon",  # or "none"
    "ALLOW_NEW_FILESYSTEM": "0",  # an empty node may create a new file system (first start)
    "ALLOW_DATA_LOSS": "0",       # promote below the local high-water mark
}


class SettingsError(Exception):
    """A one-line reason; the command exits non-zero and changes nothing."""


class Settings:
    def __init__(self, path: str, values) -> None:
        self.path = path
        self.values = values

    def text(self, key: str) -> str:
        return self.values.get(key)

    def number(self, key: str) -> float:
        try:
            value = float(self.values.get(key))
        except ValueError:
            raise SettingsError("%s: %s = %r is not a number"
                                % (self.path, key, self.values.get(key))) from None
        if value <= 0:
            raise SettingsError("%s: %s must be above 0" % (self.path, key))
        return value

    def flag(self, key: str) -> bool:
        from ocf.env import parse_bool
        try:
            return parse_bool(self.values.get(key))
        except ValueError:
            raise SettingsError("%s: %s = %r is not 0 or 1" % (self.path, key,
                                                               self.values.get(key))) from None

    @property
    def peers(self) -> list[str]:
        return self.values.get("PEERS").replace(",", " ").split()

    @property
    def port(self) -> int:
        return int(self.number("FRESHNESS_PORT"))

    def secret(self) -> bytes:
        """The shared secret: a file of root's that nobody else may read or write."""
        import stat
        path = self.text("SECRET_FILE")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as error:
            raise SettingsError("secret file %s: %s (create it: head -c 32 /dev/urandom | "
                                "base64 > %s; chmod 600 %s)" % (path, error.strerror, path,
                                                               path)) from None
        with os.fdopen(fd, "rb") as stream:
            status = os.fstat(stream.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_uid != 0 or \
                    status.st_mode & 0o077:
                raise SettingsError("secret file %s must be a regular file of root's that "
                                    "only root can read (chown root %s; chmod 600 %s)"
                                    % (path, path, path))
            secret = stream.read(4096).strip()
        if len(secret) < 16:
            raise SettingsError("secret file %s holds fewer than 16 bytes" % path)
        return secret

    def bind_address(self) -> str:
        """BIND_ADDRESS, or the one address of PEERS that is this node's."""
        if self.text("BIND_ADDRESS"):
            return check_address(self.text("BIND_ADDRESS"))
        for peer in self.peers:
            local = sorted(a for a in addresses_of(peer) if is_local(a))
            if local:
                return local[0]
        raise SettingsError("%s: none of PEERS is this node's address: add it, or set "
                            "BIND_ADDRESS" % self.path)


def load(path: str) -> Settings:
    """The hook config with its defaults; a missing file or a bad value is SettingsError."""
    from moosefs.config import ConfigError, parse
    if not os.path.isfile(path):
        raise SettingsError("config %s does not exist (see ucarp-examples/mfsha-ucarp.cfg)"
                            % path)
    try:
        values = parse(path, DEFAULTS)
    except ConfigError as error:
        raise SettingsError(str(error)) from None
    if values.unknown:
        raise SettingsError(values.warnings()[0])
    settings = Settings(path, values)
    for key in ("FRESHNESS_PORT", "QUERY_TIMEOUT", "START_TIMEOUT", "STOP_TIMEOUT", "VIP_PREFIX",
                "SETTLE_TIME", "ARCHIVE_KEEP", "ARCHIVE_MAX_MB"):
        settings.number(key)
    for key in ("ALLOW_NEW_FILESYSTEM", "ALLOW_DATA_LOSS", "FAST_STOP"):
        settings.flag(key)
    settings.secret()
    return settings


def check_interface(name: str) -> str:
    if not name or "/" in name or not os.path.isdir(os.path.join("/sys/class/net", name)):
        raise SettingsError("interface %r does not exist" % name)
    return name


def check_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise SettingsError("%r is not an IP address" % text) from None


def addresses_of(peer: str) -> set[str]:
    """The addresses a peer's name or address resolves to (none when it does not)."""
    try:
        return {info[4][0] for info in socket.getaddrinfo(peer, None, type=socket.SOCK_STREAM)}
    except OSError:
        return set()


def is_local(address: str) -> bool:
    """Is `address` one of this host's? (binding to a foreign address fails)"""
    try:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False
