"""WORKING_USER and WORKING_GROUP as numbers, and the one answer to "can the MooseFS
daemons, running as that user, read this file?" (told from owner and mode bits: the
daemons drop root before they open their files, so root's own access proves nothing)."""
from __future__ import annotations

import os


class UnknownOwner(Exception):
    """WORKING_USER or WORKING_GROUP names nobody on this node."""


class Owner:
    def __init__(self, user: str, group: str = "") -> None:
        import grp
        import pwd
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise UnknownOwner("WORKING_USER %r does not exist" % user) from None
        self.user = user
        self.uid = entry.pw_uid
        try:
            self.gid = grp.getgrnam(group).gr_gid if group else entry.pw_gid
        except KeyError:
            raise UnknownOwner("WORKING_GROUP %r does not exist" % group) from None
        self.gids = {self.gid, entry.pw_gid} | {g.gr_gid for g in grp.getgrall()
                                                 if user in g.gr_mem}

    def may_read(self, status: os.stat_result) -> bool:
        if self.uid == 0 or status.st_mode & 0o004:
            return True
        if status.st_uid == self.uid:
            return bool(status.st_mode & 0o400)
        return status.st_gid in self.gids and bool(status.st_mode & 0o040)

    def can_read(self, path: str) -> bool:
        try:
            return self.may_read(os.stat(path))
        except OSError:
            return False

    def give(self, data_path: str) -> None:
        """data_path and its regular files to WORKING_USER, never through a link."""
        from .safedir import SafeDir
        with SafeDir(data_path) as folder:
            folder.give(self.uid, self.gid)


def of_config(cfg) -> Owner:
    """The owner a MooseFS config file names (moosefs.config.Config)."""
    return Owner(cfg.working_user, cfg.working_group)
