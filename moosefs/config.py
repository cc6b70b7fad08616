"""MooseFS configuration files: `KEY = VALUE` lines, `#` comments, MooseFS's defaults."""
from __future__ import annotations

import os

# Defaults of MooseFS 3.0 and 4.x (mfsmaster.cfg(5), mfsmetalogger.cfg(5)). The keys this
# package reads (DATA_PATH, WORKING_USER/GROUP, the LISTEN hosts and ports) have the same
# defaults in both; DATA_PATH is the distributions' /var/lib/mfs (a build of its own
# defaults to its localstatedir/mfs: set DATA_PATH explicitly there). The other keys are
# listed so that a typo is reported as a warning; MooseFS itself ignores unknown keys.
_COMMON = {
    "WORKING_USER": "mfs", "WORKING_GROUP": "", "SYSLOG_IDENT": "", "LOCK_MEMORY": "0",
    "LIMIT_GLIBC_MALLOC_ARENAS": "4", "DISABLE_OOM_KILLER": "1", "NICE_LEVEL": "-19",
    "FILE_UMASK": "027", "DATA_PATH": "/var/lib/mfs", "BACK_LOGS": "50",
}
MASTER_DEFAULTS = dict(_COMMON, **{
    "SYSLOG_IDENT": "mfsmaster", "EXPORTS_FILENAME": "/etc/mfs/mfsexports.cfg",
    "TOPOLOGY_FILENAME": "/etc/mfs/mfstopology.cfg", "METADATA_SAVE_FREQ": "1",
    "BACK_META_KEEP_PREVIOUS": "1", "CHANGELOG_PRESERVE_SECONDS": "1800",
    "CHANGELOG_SAVE_MODE": "0", "MISSING_LOG_CAPACITY": "100000",
    "MATOML_LISTEN_HOST": "*", "MATOML_LISTEN_PORT": "9419",
    "MATOCS_LISTEN_HOST": "*", "MATOCS_LISTEN_PORT": "9420", "MATOCS_TIMEOUT": "10",
    "MATOCL_LISTEN_HOST": "*", "MATOCL_LISTEN_PORT": "9421", "AUTH_CODE": "",
    "REMAP_BITS": "24", "REMAP_SOURCE_IP_CLASS": "", "REMAP_DESTINATION_IP_CLASS": "",
    "REPLICATIONS_DELAY_INIT": "60", "REPLICATIONS_RESPECT_TOPOLOGY": "0",
    "CREATIONS_RESPECT_TOPOLOGY": "0", "CHUNKS_UNIQUE_MODE": "0",
    "CHUNKS_LOOP_MAX_CPS": "100000", "CHUNKS_LOOP_MIN_TIME": "300",
    "CHUNKS_SOFT_DEL_LIMIT": "10", "CHUNKS_HARD_DEL_LIMIT": "25",
    "CHUNKS_WRITE_REP_LIMIT": "2,1,1,4", "CHUNKS_READ_REP_LIMIT": "10,5,2,5",
    "CS_HEAVY_LOAD_THRESHOLD": "150", "CS_HEAVY_LOAD_RATIO_THRESHOLD": "3.0",
    "CS_HEAVY_LOAD_GRACE_PERIOD": "900", "ACCEPTABLE_PERCENTAGE_DIFFERENCE": "1.0",
    "PRIORITY_QUEUES_LENGTH": "1000000", "CS_MAINTENANCE_MODE_TIMEOUT": "0",
    "CS_TEMP_MAINTENANCE_MODE_TIMEOUT": "1800", "CS_DAYS_TO_REMOVE_UNUSED": "7",
    "SESSION_SUSTAIN_TIME": "86400", "QUOTA_DEFAULT_GRACE_PERIOD": "604800",
    "ATIME_MODE": "2", "RESERVE_SPACE": "0", "MAX_ALLOWED_HARD_LINKS": "32767",
    "INODE_REUSE_DELAY": "86400",
    # MooseFS 1.6 / 2.0 names still accepted by their masters
    "MATOML_LISTEN_PORT_OLD": "", "MATOCU_LISTEN_HOST": "", "MATOCU_LISTEN_PORT": "",
    "REJECT_OLD_CLIENTS": "0", "CHUNKS_DEL_LIMIT": "", "CHUNKS_REP_LIMIT": "",
    "NO_ATIME": "0", "EMPTY_TRASH_PERIOD": "", "EMPTY_RESERVED_INODES_PERIOD": "",
    "FREE_INODES_PERIOD": "", "REPLICATIONS_DELAY_DISCONNECT": "",
    # MooseFS 4.x (keys of mfsmaster.cfg.sample and those its code reads, 4.59.2)
    "INSTANCE_NAME": "", "METADATA_SAVE_OFFSET": "0", "CHANGELOG_PRESERVE_MB": "500",
    "SYSLOG_MIN_LEVEL": "INFO", "SYSLOG_ELEVATE_TO": "NOTICE", "MATOML_TIMEOUT": "10",
    "MATOML_FORCE_TIMEOUT": "0", "MATOCS_FORCE_TIMEOUT": "0", "MATOCL_TIMEOUT": "10",
    "MATOCL_FORCE_TIMEOUT": "0", "RESTRICT_INCOMPATIBLE_CLIENT_VERSIONS": "1",
    "MULTILAN_BITS": "24", "MULTILAN_CLASSES": "", "MULTILAN_IPMAP_FILENAME": "",
    "KEEP_EMPTY_FILES_IN_TRASH": "0", "DEFAULT_EC_DATA_PARTS": "8",
    "ACCEPTABLE_DIFFERENCE": "0.01", "CHUNKS_LOOP_TIME": "300", "CHUNK_PROTECTION_SECONDS": "15",
    "DEBUG_LOOP_SLEEP_MS": "0", "EXTRA_DEBUG_INFO": "0", "FAIL_CLASS_COUNTER_RESET_CALLS": "1",
    "FAIL_REBALANCE_COUNTER_RESET_CALLS": "1", "FLOCK_MODE": "", "JOBS_TIMER_MILLISECONDS": "5",
    "LONG_CALL_TRIGGER_MS": "0", "MATOAN_LOG_PRESERVE_SECONDS": "600",
    "MATOCS_CHUNK_SERVER_CHECK_MODE": "0", "MAX_FAILS_PER_CLASS": "5",
    "MAX_REBALANCE_FAILS": "5", "QUOTA_TIME_LIMIT": "604800",
})
METALOGGER_DEFAULTS = dict(_COMMON, **{
    "SYSLOG_IDENT": "mfsmetalogger", "BACK_META_KEEP_PREVIOUS": "3",
    "META_DOWNLOAD_FREQ": "24", "MASTER_RECONNECTION_DELAY": "5", "BIND_HOST": "*",
    "MASTER_HOST": "mfsmaster", "MASTER_PORT": "9419", "MASTER_TIMEOUT": "10",
    # MooseFS 4.x
    "SYSLOG_MIN_LEVEL": "INFO", "SYSLOG_ELEVATE_TO": "NOTICE", "DEBUG_LOOP_SLEEP_MS": "0",
    "LONG_CALL_TRIGGER_MS": "0",
})


_MAX_CONFIG_BYTES = 1 << 20  # MooseFS configs are a few KiB; a bigger file is a wrong path


class ConfigError(Exception):
    """A configuration file is missing, unreadable or malformed; names file and line."""


class Config:
    """The effective settings of one daemon: file values over MooseFS's defaults."""

    def __init__(self, path: str, values: dict[str, str], defaults: dict[str, str],
                 unknown: list[tuple[int, str]] | None = None) -> None:
        self.path = path
        self.explicit = values
        self.defaults = defaults
        self.unknown = unknown or []  # (line number, key) of keys no MooseFS version reads

    def warnings(self) -> list[str]:
        """One line per key MooseFS does not know (it ignores them): a typo, most likely."""
        return ["%s:%d: unknown setting %s (MooseFS ignores it; a typo?)" % (self.path, line, key)
                for line, key in self.unknown]

    def get(self, key: str) -> str:
        if key in self.explicit:
            return self.explicit[key]
        return self.defaults.get(key, "")

    def integer(self, key: str) -> int:
        text = self.get(key)
        try:
            return int(text)
        except ValueError:
            raise ConfigError("%s: %s = %r is not an integer" % (self.path, key, text)) from None

    @property
    def data_path(self) -> str:
        return os.path.normpath(self.get("DATA_PATH"))

    @property
    def working_user(self) -> str:
        return self.get("WORKING_USER")

    @property
    def working_group(self) -> str:
        """MooseFS uses the user's primary group when WORKING_GROUP is empty."""
        return self.get("WORKING_GROUP")


def parse(path: str, defaults: dict[str, str]) -> Config:
    """Read a MooseFS config file.

    A line is empty, a comment, or `KEY = VALUE` (a `#` starts a comment anywhere,
    as in MooseFS's cfg parser); anything else is a ConfigError naming file and line.
    A key that no MooseFS version reads is accepted, as MooseFS does, and listed in
    `Config.unknown` for the caller to warn about.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read(_MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError("cannot read %s: %s" % (path, error.strerror or error)) from None
    if len(data) > _MAX_CONFIG_BYTES or b"\0" in data:
        raise ConfigError("%s is not a MooseFS config file (binary or over %d bytes)"
                          % (path, _MAX_CONFIG_BYTES))
    lines = data.decode("utf-8", errors="replace").splitlines()
    values: dict[str, str] = {}
    unknown: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or not key.replace("_", "").isalnum() or not key.isupper():
            raise ConfigError("%s:%d: not a 'KEY = VALUE' line: %r" % (path, number, raw))
        if key not in defaults:
            unknown.append((number, key))
        values[key] = value.strip()
    return Config(path, values, defaults, unknown)


def master(path: str) -> Config:
    return parse(path, MASTER_DEFAULTS)


def metalogger(path: str) -> Config:
    return parse(path, METALOGGER_DEFAULTS)
