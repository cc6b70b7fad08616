"""Acting as root in a folder that another user (MooseFS's WORKING_USER) controls.

Whoever runs as WORKING_USER can rename, replace or link any name in DATA_PATH
between two system calls of ours. So root never acts on a path there: the folder is
opened once, and every file is opened relative to that descriptor without following
a link (O_NOFOLLOW), checked to be a regular file with one link after it is open
(fstat), and changed only through its descriptor (fchown, fchmod, ftruncate). New
files get a name nobody can predict and O_EXCL; renames stay within the folder.
"""
from __future__ import annotations

import os
import stat

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafeFile(OSError):
    """A name that is not a plain regular file of its own (a link, a FIFO, a folder,
    a second hard link): root refuses to act on it."""


def kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str, flags: int = 0, dir_fd: int | None = None) -> int:
    """A descriptor of the regular file at `path` (relative to `dir_fd` when given),
    never through a link; UnsafeFile when it is anything else."""
    try:
        fd = os.open(path, _READ | flags, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == 40:  # ELOOP: the last component is a symbolic link
            raise UnsafeFile(error.errno, "%s is a symbolic link" % path) from None
        raise
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFile(0, "%s is %s" % (path, kind_of(status.st_mode)))
        if status.st_nlink != 1:
            raise UnsafeFile(0, "%s has %d hard links" % (path, status.st_nlink))
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


class SafeDir:
    """One folder, opened once; names are acted on relative to it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def __enter__(self) -> "SafeDir":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def where(self, name: str) -> str:
        return os.path.join(self.path, name)

    def open_regular(self, name: str, flags: int = 0) -> int:
        try:
            return open_regular(name, flags, dir_fd=self.fd)
        except UnsafeFile as error:  # name the file by its whole path
            raise UnsafeFile(error.errno, self.where(name) + error.strerror[len(name):]) from None

    def create(self, prefix: str, mode: int = 0o600) -> tuple[str, int]:
        """A new file under a name nobody can guess: (name, descriptor)."""
        import secrets
        name = "%s%s" % (prefix, secrets.token_hex(8))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        return name, os.open(name, flags, mode, dir_fd=self.fd)

    def create_named(self, name: str, mode: int = 0o600) -> int:
        """A new file at `name`; FileExistsError when anything (a link too) is there."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.open(name, flags, mode, dir_fd=self.fd)

    def rename(self, old: str, new: str) -> None:
        os.rename(old, new, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        os.unlink(name, dir_fd=self.fd)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def names(self) -> list[str]:
        return sorted(os.listdir(self.fd))

    def give(self, uid: int, gid: int) -> list[str]:
        """The folder and each regular file in it to uid:gid; returns what was skipped
        (links and other kinds, never changed)."""
        os.fchown(self.fd, uid, gid)
        skipped = []
        for name in self.names():
            try:
                fd = self.open_regular(name)
            except UnsafeFile as error:
                skipped.append(error.strerror)
                continue
            except OSError:
                continue  # gone meanwhile
            try:
                os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
        return skipped
