"""This node's MooseFS installation: the master's and the metalogger's config files,
the data directory they share, the two daemons, the archive of set-aside files and
the client address. Every front-end (the Pacemaker agent, the ucarp hooks, the
operator command) reads the installation through this one type."""
from __future__ import annotations

import os

from . import config
from .archive import Archiver, default_folder
from .daemons import Master, Metalogger, serving

MASTER = "master"
METALOGGER = "metalogger"
NONE = "none"


class LayoutError(Exception):
    """The installation cannot work as configured (one line, for the administrator)."""


class LocalNode:
    """ConfigError (moosefs.config) when a config file cannot be read."""

    def __init__(self, master_cfg: str, metalogger_cfg: str) -> None:
        self.master_cfg = config.master(master_cfg)
        self.metalogger_cfg = config.metalogger(metalogger_cfg)
        self.data_path = self.master_cfg.data_path
        self.master = Master(self.master_cfg.path, self.data_path)
        self.metalogger = Metalogger(self.metalogger_cfg.path, self.metalogger_cfg.data_path)

    def config_warnings(self) -> list[str]:
        return self.master_cfg.warnings() + self.metalogger_cfg.warnings()

    def role(self) -> str:
        return MASTER if self.master.pid() else METALOGGER if self.metalogger.pid() else NONE

    def archiver(self, folder: str = "", keep_count: int = 20, keep_mb: int = 10240) -> Archiver:
        """The archive: `folder`, or DATA_PATH-archive beside the data directory."""
        return Archiver(folder or default_folder(self.data_path),
                        keep_count=max(1, keep_count), keep_bytes=max(0, keep_mb) << 20)

    def client_address(self) -> tuple[str, int]:
        return (self.master_cfg.get("MATOCL_LISTEN_HOST"),
                self.master_cfg.integer("MATOCL_LISTEN_PORT"))

    def serving(self) -> bool:
        return serving(*self.client_address())

    def check_layout(self) -> None:
        """LayoutError unless both daemons share one data directory that exists and
        belongs to WORKING_USER (mfsmaster and mfsmetalogger refuse anything else)."""
        from .owner import UnknownOwner, of_config
        if self.metalogger_cfg.data_path != self.data_path:
            raise LayoutError("DATA_PATH differs: %s in %s, %s in %s; use the same directory "
                              "for both" % (self.data_path, self.master_cfg.path,
                                            self.metalogger_cfg.data_path,
                                            self.metalogger_cfg.path))
        try:
            owner = of_config(self.master_cfg)
        except UnknownOwner as error:
            raise LayoutError("%s in %s" % (error, self.master_cfg.path)) from None
        try:
            status = os.stat(self.data_path)
        except OSError:
            raise LayoutError("DATA_PATH %s does not exist; create it owned by %s"
                              % (self.data_path, owner.user)) from None
        if not os.path.isdir(self.data_path) or status.st_uid != owner.uid:
            raise LayoutError("DATA_PATH %s must be a directory owned by %s"
                              % (self.data_path, owner.user))
