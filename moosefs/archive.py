"""Moving files aside into compressed, timestamped archives; never deleting them.

An archive is written completely (temporary name, fsync, rename) before any file in
the data directory is removed, truncated or rewritten. Retention prunes the oldest
archives by count and total size, but never the one just written.
"""
from __future__ import annotations

import os
import time

ARCHIVE_PREFIX = "mfsha-"
ARCHIVE_SUFFIX = ".tar.gz"


class ArchiveError(Exception):
    pass


def default_folder(data_path: str) -> str:
    data_path = os.path.normpath(data_path)
    return os.path.join(os.path.dirname(data_path), os.path.basename(data_path) + "-archive")


class Archiver:
    def __init__(self, folder: str, keep_count: int = 20, keep_bytes: int = 10 << 30,
                 free_margin: int = 64 << 20) -> None:
        self.folder = folder
        self.keep_count = keep_count
        self.keep_bytes = keep_bytes
        self.free_margin = free_margin

    def archives(self) -> list[str]:
        """Existing archives, oldest first."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(self.folder, n) for n in names
                      if n.startswith(ARCHIVE_PREFIX) and n.endswith(ARCHIVE_SUFFIX))

    def check_folder(self) -> None:
        """The archive folder must be root's alone (when root writes it): another user
        who can write there could plant links where root writes the archive."""
        import stat
        status = os.lstat(self.folder)
        if not stat.S_ISDIR(status.st_mode):
            raise ArchiveError("archive folder %s is not a folder" % self.folder)
        if os.geteuid() == 0 and (status.st_uid != 0 or status.st_mode & 0o022):
            raise ArchiveError("archive folder %s must belong to root and be writable by "
                               "root only (chown root %s; chmod 750 %s)"
                               % (self.folder, self.folder, self.folder))

    def check_space(self, needed: int) -> None:
        stat = os.statvfs(self.folder)
        free = stat.f_bavail * stat.f_frsize
        if free < needed + self.free_margin:
            raise ArchiveError("archive folder %s has %d MiB free, %d MiB needed to set files "
                               "aside safely: free space there or set another archive folder"
                               % (self.folder, free >> 20, (needed + self.free_margin) >> 20))

    def store(self, data_path: str, names: list[str], label: str) -> str:
        """Write `names` (regular files in data_path) into a new archive and return its
        path. Each is opened without following links (moosefs.safedir): a link or any
        other kind of file there is refused (ArchiveError naming it), so nothing from
        outside data_path enters the archive.

        The originals are left in place; the caller removes or rewrites them.
        """
        import tarfile

        from .safedir import SafeDir, UnsafeFile
        os.makedirs(self.folder, mode=0o750, exist_ok=True)
        self.check_folder()
        try:
            with SafeDir(data_path) as folder:
                opened = [(name, os.fdopen(folder.open_regular(name), "rb")) for name in names]
        except UnsafeFile as error:
            raise ArchiveError("refusing to archive %s" % error.strerror) from None
        except OSError as error:
            raise ArchiveError("cannot open %s for the archive: %s"
                               % (data_path, error.strerror)) from None
        try:
            return self._write(opened, label, tarfile)
        finally:
            for _, stream in opened:
                stream.close()

    def _write(self, opened, label: str, tarfile) -> str:
        self.check_space(sum(os.fstat(stream.fileno()).st_size for _, stream in opened))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        final = os.path.join(self.folder, "%s%s-%s%s" % (ARCHIVE_PREFIX, stamp, label,
                                                         ARCHIVE_SUFFIX))
        counter = 1
        while os.path.exists(final):
            counter += 1
            final = os.path.join(self.folder, "%s%s-%s-%d%s" % (ARCHIVE_PREFIX, stamp, label,
                                                                counter, ARCHIVE_SUFFIX))
        temporary = final + ".partial"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            with os.fdopen(os.open(temporary, flags, 0o640), "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1) as tar:
                    for name, stream in opened:
                        tar.addfile(tar.gettarinfo(arcname=name, fileobj=stream), stream)
                raw.flush()
                os.fsync(raw.fileno())
            os.rename(temporary, final)
            _fsync_dir(self.folder)
        except OSError as error:
            _remove_quietly(temporary)
            raise ArchiveError("cannot write archive %s: %s" % (final, error.strerror)) from None
        self.prune(keep=final)
        return final

    def prune(self, keep: str) -> list[str]:
        """Apply retention; returns the archives removed."""
        archives = self.archives()
        removed = []
        total = sum(os.path.getsize(a) for a in archives)
        while len(archives) > 1 and (len(archives) > self.keep_count or
                                     (self.keep_bytes and total > self.keep_bytes)):
            oldest = archives.pop(0)
            if oldest == keep:
                continue
            total -= os.path.getsize(oldest)
            os.unlink(oldest)
            removed.append(oldest)
        return removed


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def truncate_at(folder, name: str, offset: int) -> None:
    """Keep bytes [0, offset) of the file `name` in `folder` (a safedir.SafeDir)."""
    fd = folder.open_regular(name, os.O_RDWR)
    try:
        os.ftruncate(fd, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_prefix(folder, name: str, offset: int) -> None:
    """Keep bytes [offset, end) of the file `name` in `folder` (a safedir.SafeDir),
    replacing it atomically by a new file of the same owner and mode."""
    source = folder.open_regular(name)
    try:
        status = os.fstat(source)
        temporary, target = folder.create(".mfsha-tmp-")
        try:
            with os.fdopen(os.dup(source), "rb") as reader, os.fdopen(target, "wb") as writer:
                reader.seek(offset)
                while True:
                    block = reader.read(1 << 20)
                    if not block:
                        break
                    writer.write(block)
                writer.flush()
                os.fsync(writer.fileno())
                os.fchown(writer.fileno(), status.st_uid, status.st_gid)
                os.fchmod(writer.fileno(), status.st_mode & 0o7777)
            folder.rename(temporary, name)
        except BaseException:
            try:
                folder.unlink(temporary)
            except OSError:
                pass
            raise
    finally:
        os.close(source)
