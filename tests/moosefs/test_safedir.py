"""Root never acts through a name WORKING_USER (mfs) controls: links, FIFOs and hard
links planted in DATA_PATH change nothing outside it and are refused by name."""
from __future__ import annotations

import os
import pathlib
import shutil
import time

import pytest

from moosefs import archive, inspect
from moosefs.archive import Archiver, ArchiveError
from moosefs.owner import Owner
from tests.synthetic import change_line, write_changelog, write_image

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def outside(tmp_path):
    """Root-only files outside DATA_PATH, and a way to prove them untouched."""
    folder = tmp_path / "outside"
    folder.mkdir(mode=0o700)
    secrets = []
    for name in ("shadow", "config"):
        path = folder / name
        path.write_bytes(b"root only %s\n" % name.encode())
        os.chmod(path, 0o600)
        secrets.append(str(path))

    def snapshot():
        return {p: (open(p, "rb").read(), os.stat(p).st_uid, os.stat(p).st_gid,
                    os.stat(p).st_mode) for p in secrets}
    before = snapshot()
    yield secrets
    assert snapshot() == before, "a file outside DATA_PATH changed"


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.chown(folder, "mfs", "mfs")
    return folder


def plant(data, name: str, target: str) -> None:
    os.symlink(target, data / name)
    os.lchown(data / name, *_mfs())


def _mfs():
    import pwd
    entry = pwd.getpwnam("mfs")
    return entry.pw_uid, entry.pw_gid


def test_cutting_a_prefix_never_writes_through_a_planted_temporary_name(data, outside):
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 200))
    shutil.chown(data / "changelog_ml.0.mfs", "mfs", "mfs")
    plant(data, "changelog_ml.0.mfs.mfsha-tmp", outside[0])  # the name a root once used
    from moosefs.safedir import SafeDir
    with SafeDir(str(data)) as folder:
        archive.drop_prefix(folder, "changelog_ml.0.mfs", 10 * len(change_line(100)))
    assert open(data / "changelog_ml.0.mfs", "rb").read().startswith(b"110:")
    assert os.stat(data / "changelog_ml.0.mfs").st_uid == _mfs()[0]
    assert [n for n in os.listdir(data) if n.startswith(".mfsha-tmp")] == []


def test_a_planted_link_is_never_truncated_nor_cut(data, outside):
    plant(data, "changelog_ml.1.mfs", outside[0])
    from moosefs.safedir import SafeDir, UnsafeFile
    with SafeDir(str(data)) as folder:
        with pytest.raises(UnsafeFile, match="changelog_ml.1.mfs is a symbolic link"):
            archive.truncate_at(folder, "changelog_ml.1.mfs", 3)
        with pytest.raises(UnsafeFile, match="symbolic link"):
            archive.drop_prefix(folder, "changelog_ml.1.mfs", 3)


def test_giving_the_folder_to_mfs_skips_links(data, outside):
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    plant(data, "metadata.mfs", outside[0])
    plant(data, "anything", outside[1])
    owner = Owner("mfs")
    owner.give(str(data))
    assert os.stat(data / "metadata_ml.mfs.back").st_uid == owner.uid


def test_the_archive_takes_nothing_from_outside(data, outside, tmp_path):
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 110))
    plant(data, "changelog_ml.1.mfs", outside[0])
    archiver = Archiver(str(tmp_path / "archive"))
    with pytest.raises(ArchiveError, match="changelog_ml.1.mfs is a symbolic link"):
        archiver.store(str(data), ["changelog_ml.0.mfs", "changelog_ml.1.mfs"], "t")
    assert archiver.archives() == []


def test_a_second_hard_link_is_refused(data, tmp_path):
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 110))
    os.link(data / "changelog_ml.0.mfs", tmp_path / "elsewhere")
    found = inspect.inspect(str(data), thorough=True)
    assert found.verdict == inspect.UNSAFE and "has 2 hard links" in found.reason


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_the_inspection_refuses_a_metadata_name_that_is_not_a_file_and_never_hangs(
        data, outside, kind):
    write_image(str(data / "metadata_ml.mfs.back"), 100)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 150))
    if kind == "link":
        plant(data, "changelog_ml.3.mfs", outside[0])
    else:
        os.mkfifo(data / "changelog_ml.3.mfs")
    started = time.monotonic()
    found = inspect.inspect(str(data), thorough=True)
    assert time.monotonic() - started < 5
    assert found.verdict == inspect.UNSAFE
    assert "%s is a %s" % (data / "changelog_ml.3.mfs",
                           "symbolic link" if kind == "link" else "FIFO") in found.reason


def test_a_promote_with_links_planted_at_every_name_root_touches(lab, outside):
    """Real daemons: a metalogger directory whose changelog needs its old prefix cut out
    (root rewrites it), with links to root-only files planted at the temporary names,
    the image name a new file system would write and other names root gives to mfs.
    The promote restores the right version; nothing outside DATA_PATH changes. A link
    at a name the restore reads is then refused, by name."""
    from moosefs import config
    from moosefs.daemons import Master
    from moosefs.history import Known
    from moosefs.restore import RestoreError, restore
    from procrun import Deadline
    from tests.moosefs.scenes import (master_version, metalogger_with_old_changes_before_a_gap,
                                         promote)
    a, b, files = metalogger_with_old_changes_before_a_gap(lab)
    data = pathlib.Path(b.data)
    for name in ("changelog_ml.0.mfs.mfsha-tmp", ".mfsha-tmp-0", "stats.mfs", "evil"):
        plant(data, name, outside[0])
    expected = master_version(a)
    result = promote(b, known=Known(expected, False))
    assert result.version == expected and result.archive
    lab.assert_files(files)
    assert Master(b.master_cfg, b.data).stop(30)
    plant(data, "changelog_ml.9.mfs", outside[1])
    with pytest.raises(RestoreError, match="changelog_ml.9.mfs is a symbolic link"):
        restore(config.master(b.master_cfg), Deadline(60, reserve=0),
                Archiver(str(data.parent / "archive")), known=Known(expected, True))


def test_an_archive_folder_another_user_can_write_is_refused(data, tmp_path):
    write_changelog(str(data / "changelog_ml.0.mfs"), range(100, 110))
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.chown(folder, "mfs", "mfs")  # mfs could plant links where root writes
    with pytest.raises(ArchiveError, match="must belong to root"):
        Archiver(str(folder)).store(str(data), ["changelog_ml.0.mfs"], "t")
    assert os.listdir(folder) == []
