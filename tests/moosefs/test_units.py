"""Config parsing, archives, generation detection and the 1.6 restore path (with fake
binaries: MooseFS 1.6 and 2.x are not packaged for this Debian)."""
from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import tarfile
import time

import pytest

from moosefs import config, generation
from moosefs.archive import ArchiveError, Archiver
from moosefs.files import read_image
from moosefs.restore import RestoreError, restore
from procrun import Deadline
from tests.moosefs_versions import SAMPLE_TARBALL, sample_keys
from tests.synthetic import write_changelog, write_image


# --- config ---------------------------------------------------------------------------------
def test_config_values_comments_and_defaults(tmp_path):
    path = tmp_path / "mfsmaster.cfg"
    path.write_text("# comment\n\nDATA_PATH = /srv/mfs  # trailing\nMATOCL_LISTEN_PORT=19421\n")
    cfg = config.master(str(path))
    assert cfg.data_path == "/srv/mfs" and cfg.integer("MATOCL_LISTEN_PORT") == 19421
    assert cfg.get("MATOML_LISTEN_PORT") == "9419" and cfg.working_user == "mfs"
    assert config.metalogger(str(path)).get("MASTER_HOST") == "mfsmaster"


def test_unknown_key_is_accepted_and_named_with_file_and_line(tmp_path):
    path = tmp_path / "mfsmaster.cfg"
    path.write_text("DATA_PATH = /x\nDATA_PAHT = /y\nRESTRICT_INCOMPATIBLE_CLIENT_VERSIONS = 0\n")
    cfg = config.master(str(path))
    assert cfg.data_path == "/x" and cfg.get("DATA_PAHT") == "/y"
    assert cfg.warnings() == ["%s:2: unknown setting DATA_PAHT (MooseFS ignores it; a typo?)"
                              % path]


@pytest.mark.parametrize("content,words", [
    (b"DATA_PATH = /x\njust words\n", ":2: not a 'KEY = VALUE' line"),
    (b"DATA_PATH = /x\n = 3\n", ":2: not a 'KEY = VALUE' line"),
    (b"\x7fELF\x02\x01\x00\x00binary", "is not a MooseFS config file"),
])
def test_config_errors_name_file_and_line(tmp_path, content, words):
    path = tmp_path / "mfsmaster.cfg"
    path.write_bytes(content)
    with pytest.raises(config.ConfigError) as error:
        config.master(str(path))
    assert str(path) in str(error.value) and words in str(error.value)


def test_missing_or_unreadable_config_file(tmp_path):
    with pytest.raises(config.ConfigError, match="cannot read .*none.cfg"):
        config.metalogger(str(tmp_path / "none.cfg"))
    with pytest.raises(config.ConfigError, match="cannot read .*: Is a directory"):
        config.metalogger(str(tmp_path))






@pytest.mark.skipif(not os.path.exists(SAMPLE_TARBALL), reason="no MooseFS 4.59.2 source in "
                    "../shared/moosefs: the 4.x sample keys cannot be checked")
@pytest.mark.parametrize("name,parse", [("mfsmaster", config.master),
                                        ("mfsmetalogger", config.metalogger)])
def test_every_key_of_the_459_samples_is_known(tmp_path, name, parse):
    lines = sample_keys(name)
    assert len(lines) > 15 and any("DATA_PATH" in line for line in lines)
    path = tmp_path / (name + ".cfg")
    path.write_text("\n".join(lines) + "\n")
    cfg = parse(str(path))
    assert cfg.warnings() == [] and len(cfg.explicit) == len(lines)


# --- archives -------------------------------------------------------------------------------
def test_archive_keeps_content_and_applies_retention(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "changelog.0.mfs").write_bytes(b"1: x\n")
    archiver = Archiver(str(tmp_path / "archive"), keep_count=2)
    paths = [archiver.store(str(data), ["changelog.0.mfs"], "t%d" % i) for i in range(3)]
    assert archiver.archives() == sorted(paths[1:])
    with tarfile.open(paths[-1]) as tar:
        assert tar.extractfile("changelog.0.mfs").read() == b"1: x\n"


def test_full_disk_is_a_clear_failure_not_a_loss(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "metadata.mfs").write_bytes(b"x" * 100)
    archiver = Archiver(str(tmp_path / "archive"), free_margin=1 << 60)
    with pytest.raises(ArchiveError, match="MiB free"):
        archiver.store(str(data), ["metadata.mfs"], "full")
    assert (data / "metadata.mfs").read_bytes() == b"x" * 100
    assert archiver.archives() == []


# --- generation -------------------------------------------------------------------------------
def fake_binary(folder, name, text, code=0):
    path = folder / name
    path.write_text("#!/bin/sh\necho '%s'\nexit %d\n" % (text, code))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.mark.parametrize("version,method", [("1.6.27", generation.METARESTORE),
                                            ("2.0.91-1", generation.MASTER_AUTO_START),
                                            ("3.0.117-1", generation.MASTER_RESTORE),
                                            ("4.57.5", generation.MASTER_RESTORE)])
def test_generation_from_version(tmp_path, version, method):
    master = fake_binary(tmp_path, "mfsmaster", "version: %s ; build: 1" % version)
    restorer = fake_binary(tmp_path, "mfsmetarestore", "version: 1.6.27")
    found = generation.detect(master, restorer)
    assert found.method == method and found.text == version.split("-")[0]


def test_metarestore_stub_is_never_trusted(tmp_path):
    master = fake_binary(tmp_path, "mfsmaster", "version: 1.6.27")
    stub = fake_binary(tmp_path, "mfsmetarestore",
                       "mfsmetarestore has been removed in version 1.7, use mfsmaster -a instead")
    with pytest.raises(generation.GenerationError, match="needs a working"):
        generation.detect(master, stub)
    assert generation.is_metarestore_stub("mfsmetarestore has been removed in version 1.7")


def test_unreadable_version_is_an_error(tmp_path):
    with pytest.raises(generation.GenerationError):
        generation.detect(fake_binary(tmp_path, "mfsmaster", "garbage"), "/nonexistent")


# --- the 1.6 restore path ----------------------------------------------------------------------
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files to mfs")
def test_16_restore_preselects_the_newest_image(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 0, 0)
    # 1.6's -a would take metadata.mfs.back although metadata_ml.mfs.back is newer.
    write_image(str(data / "metadata.mfs.back"), 100, mtime=1_700_000_000)
    write_image(str(data / "metadata_ml.mfs.back"), 500, mtime=1_700_001_000)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(500, 520), mtime=1_700_001_000)
    cfg_path = tmp_path / "mfsmaster.cfg"
    cfg_path.write_text("DATA_PATH = %s\n" % data)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A stand-in for 1.6's mfsmetarestore -a -d DIR: it uses metadata.mfs.back.
    script = bin_dir / "mfsmetarestore"
    script.write_text('#!/bin/sh\ncp "$3/metadata.mfs.back" "$3/metadata.mfs"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    # The stand-in replays no changelog: the check of the result must refuse it.
    with pytest.raises(RestoreError, match="restored version 500 is below the inspected 520"):
        restore(config.master(str(cfg_path)), Deadline(30), Archiver(str(tmp_path / "a")),
                generation=generation.Generation((1, 6, 27), generation.METARESTORE))
    assert read_image(str(data / "metadata.mfs")).version == 500  # the newest, not 100
    archived = tarfile.open(Archiver(str(tmp_path / "a")).archives()[0]).getnames()
    assert "metadata.mfs.back" in archived


def stand_in_master(tmp_path, monkeypatch, script: str) -> None:
    """A fake `mfsmaster` first on PATH; `script` is its shell body ($4: the restore mode)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mfsmaster"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_new_file_system_is_restored_from_the_marker_into_a_complete_image(tmp_path,
                                                                             monkeypatch):
    """Refused without the opt-in; with it, the marker goes through `mfsmaster -a restore`
    (a stand-in here that checks it got the marker; the real one in test_moosefs_real)."""
    data = tmp_path / "data"
    data.mkdir()
    cfg_path = tmp_path / "mfsmaster.cfg"
    cfg_path.write_text("DATA_PATH = %s\n" % data)
    template = write_image(str(tmp_path / "version1.mfs"), 1, metaid=0)
    stand_in_master(tmp_path, monkeypatch,
                    '[ "$*" = "-a -c %s restore" ] || exit 3\n'
                    '[ "$(cat %s/metadata.mfs)" = "MFSM NEW" ] || exit 4\n'
                    'cp %s %s/metadata.mfs\n' % (cfg_path, data, template, data))
    three = generation.Generation((3, 0, 117), generation.MASTER_RESTORE)
    with pytest.raises(RestoreError, match="only when explicitly allowed"):
        restore(config.master(str(cfg_path)), Deadline(30), Archiver(str(tmp_path / "a")),
                generation=three)
    created = restore(config.master(str(cfg_path)), Deadline(30), Archiver(str(tmp_path / "a")),
                      allow_create=True, generation=three)
    assert created.version == 1 and created.inspection.verdict == "empty"  # a new one
    assert read_image(str(data / "metadata.mfs")).signature == "MFSM 2.0"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_new_file_system_whose_restore_fails_is_refused(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    cfg_path = tmp_path / "mfsmaster.cfg"
    cfg_path.write_text("DATA_PATH = %s\n" % data)
    stand_in_master(tmp_path, monkeypatch, "echo cannot >&2; exit 1\n")
    with pytest.raises(RestoreError, match="restore failed: .*cannot"):
        restore(config.master(str(cfg_path)), Deadline(30), Archiver(str(tmp_path / "a")),
                allow_create=True,
                generation=generation.Generation((4, 59, 2), generation.MASTER_RESTORE))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_4x_node_refuses_changes_without_idle_entries_over_the_new_marker(tmp_path):
    """MooseFS 4 replaying 3.x changes onto `MFSM NEW` builds a 4.x file system with erasure
    coding on, which refuses 3.x chunkservers and clients (seen in the lab)."""
    data = tmp_path / "data"
    data.mkdir()
    write_image(str(data / "metadata_ml.mfs.back"), 1, signature=b"MFSM NEW")
    write_changelog(str(data / "changelog_ml.0.mfs"), range(1, 40))
    cfg_path = tmp_path / "mfsmaster.cfg"
    cfg_path.write_text("DATA_PATH = %s\n" % data)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    four = generation.Generation((4, 59, 2), generation.MASTER_RESTORE)
    with pytest.raises(RestoreError, match=r"new-file-system marker plus changes with no IDLE"
                                           r"\(\) entry.*MooseFS 4.59.2"):
        restore(config.master(str(cfg_path)), Deadline(30), Archiver(str(tmp_path / "a")),
                generation=four)
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    from moosefs.inspect import inspect
    changelogs = inspect(str(data), thorough=True).changelogs
    three = generation.Generation((3, 0, 117), generation.MASTER_RESTORE)
    assert generation.marker_trap(three, "MFSM NEW", changelogs) is None  # 3.x builds 3.x
    assert generation.marker_trap(four, "MFSM 2.0", changelogs) is None   # a complete image
    assert generation.marker_trap(four, "MFSM NEW", []) is None          # nothing to replay
    with open(data / "changelog_ml.0.mfs", "ab") as stream:
        stream.write(b"40: 1796293512|IDLE()\n")                    # logged by MooseFS 4
    assert generation.marker_trap(four, "MFSM NEW",
                                  inspect(str(data), thorough=True).changelogs) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_30_node_refuses_a_changelog_with_4x_idle_entries_and_touches_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_image(str(data / "metadata_ml.mfs.back"), 500)
    write_changelog(str(data / "changelog_ml.0.mfs"), range(500, 510))
    with open(data / "changelog_ml.0.mfs", "ab") as stream:
        stream.write(b"510: 1796293512|IDLE()\n")
    cfg_path = tmp_path / "mfsmaster.cfg"
    cfg_path.write_text("DATA_PATH = %s\n" % data)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    with pytest.raises(RestoreError, match="written by MooseFS 4 \\(changelog_ml.0.mfs holds "
                                           "IDLE\\(\\) entries\\).*MooseFS 3.0.117 on this node"):
        restore(config.master(str(cfg_path)), Deadline(30), Archiver(str(tmp_path / "a")),
                generation=generation.Generation((3, 0, 117), generation.MASTER_RESTORE))
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    assert not os.path.exists(tmp_path / "a")
    # MooseFS 4 reads its own history: no refusal from this rule.
    four = generation.Generation((4, 59, 2), generation.MASTER_RESTORE)
    from moosefs.inspect import inspect
    assert generation.unreadable_history(four, None, inspect(str(data), thorough=True)
                                         .changelogs) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_no_new_file_system_over_a_leftover_back_image(tmp_path):
    """MooseFS 4 refuses `MFSM NEW` beside a .back image; so does the restore, before it."""
    data = tmp_path / "data"
    data.mkdir()
    write_image(str(data / "metadata.mfs.back"), 300, complete=False)
    cfg_path = tmp_path / "mfsmaster.cfg"
    cfg_path.write_text("DATA_PATH = %s\n" % data)
    with pytest.raises(RestoreError, match="cannot be restored safely"):
        restore(config.master(str(cfg_path)), Deadline(30), Archiver(str(tmp_path / "a")),
                allow_create=True)
    assert sorted(p.name for p in data.iterdir()) == ["metadata.mfs.back"]


# --- daemon stop escalation --------------------------------------------------------------------
@contextlib.contextmanager
def stand_in_daemon(lock, ignore_sigterm: bool):
    """A process holding `lock` as mfsmaster and mfsmetalogger hold theirs; killed at the
    end if still alive."""
    code = ("import fcntl, os, signal, sys, time\n"
            + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_sigterm else "")
            + "f = open(sys.argv[1], 'w'); fcntl.lockf(f, fcntl.LOCK_EX)\n"
            "f.write(str(os.getpid())); f.flush(); print('locked', flush=True)\n"
            "time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"locked"
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_stop_of_a_stopped_daemon_is_clean_and_quick(tmp_path):
    """A SIGSTOPped (frozen) daemon gets SIGCONT after SIGTERM, as systemd sends it."""
    from moosefs.daemons import Metalogger
    with stand_in_daemon(tmp_path / ".mfsmetalogger.lock", ignore_sigterm=False) as child:
        child.send_signal(signal.SIGSTOP)
        logger = Metalogger(str(tmp_path / "unused.cfg"), str(tmp_path))
        started = time.monotonic()
        assert logger.stop(20.0) is True  # SIGTERM took effect: no SIGKILL
        assert time.monotonic() - started < 5
        assert child.wait(5) == -signal.SIGTERM


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path):
    from moosefs.daemons import Master
    with stand_in_daemon(tmp_path / ".mfsmaster.lock", ignore_sigterm=True) as child:
        master = Master(str(tmp_path / "unused.cfg"), str(tmp_path))
        assert master.pid() == child.pid
        started = time.monotonic()
        assert master.stop(1.0) is False  # not a clean stop
        assert time.monotonic() - started < 5
        assert child.wait(5) == -9 and master.pid() == 0


# --- lock owner (/proc/locks, no struct flock) ---------------------------------------------
LOCKER = """
import fcntl, sys, time
stream = open(sys.argv[1], "w")
fcntl.lockf(stream, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(30)
"""


def test_lock_owner_is_the_process_holding_the_write_lock(tmp_path):
    from moosefs.daemons import lock_owner
    lock = tmp_path / ".mfsmaster.lock"
    lock.write_text("")
    assert lock_owner(str(lock)) == 0
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, str(lock)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert lock_owner(str(lock)) == holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert lock_owner(str(lock)) == 0
    assert lock_owner(str(tmp_path / "absent.lock")) == 0


def test_lock_table_lines_that_are_not_a_write_lock_on_the_file_name_no_owner(tmp_path):
    from moosefs.daemons import writer_of
    lock = tmp_path / "lock"
    lock.write_text("")
    me = os.stat(lock)
    device = "%02x:%02x" % (os.major(me.st_dev), os.minor(me.st_dev))
    here = "%s:%d" % (device, me.st_ino)
    assert writer_of("1: POSIX  ADVISORY  WRITE 4242 %s 0 EOF\n" % here, me) == 4242
    for line in ("1: POSIX  ADVISORY  READ 4242 %s 0 EOF" % here,
                 "1: FLOCK  ADVISORY  WRITE 4242 %s 0 EOF" % here,
                 "1: OFDLCK ADVISORY  WRITE -1 %s 0 EOF" % here,
                 "1: -> POSIX  ADVISORY  WRITE 4243 %s 0 EOF" % here,
                 "1: POSIX  ADVISORY  WRITE 4242 %s:%d 0 EOF" % (device, me.st_ino + 1),
                 "garbage", ""):
        assert writer_of(line + "\n", me) == 0, line
    # Another device for the same inode (an overlay): only a holder with the file open.
    other = "ff:7f:%d" % me.st_ino
    assert writer_of("1: POSIX  ADVISORY  WRITE %d %s 0 EOF\n" % (2**22 + 7, other), me) == 0
    with open(lock) as stream:
        assert writer_of("1: POSIX  ADVISORY  WRITE %d %s 0 EOF\n" % (os.getpid(), other),
                         me) == os.getpid()
        assert stream
