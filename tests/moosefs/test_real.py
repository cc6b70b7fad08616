"""The MooseFS package against real daemons on loopback, with a FUSE client and checksums."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from moosefs import config, inspect
from moosefs.archive import Archiver, default_folder
from moosefs.daemons import Master, Metalogger
from moosefs.files import read_image
from moosefs.history import Known
from moosefs.inspect import change_fingerprint
from moosefs.restore import RestoreError, restore
from procrun import Deadline
from tests.mfslab import CL_PORT, CS_PORT, ML_PORT, wait_until
from tests.moosefs.scenes import (FOLLOWER, bring_up, master_version, promote,
                                  metalogger_with_old_changes_before_a_gap, start_metalogger,
                                  wait_caught_up)















def test_kill_master_restore_on_metalogger_keeps_every_file(lab):
    a, b = bring_up(lab)
    files = lab.write_files("one", 200, seed=1)
    wait_caught_up(a, b)
    version_at_kill = master_version(a)
    os.kill(a.master_pid(), 9)
    wait_until(lambda: not a.master_pid(), 10, what="master to die")
    assert not os.path.exists(os.path.join(a.data, "metadata.mfs"))  # no clean-stop image
    result = promote(b)
    assert result.version == version_at_kill
    lab.assert_files(files)
    files.update(lab.write_files("two", 50, seed=2))
    lab.assert_files(files)


def shift_mtimes(data: str, kind: str, seconds: float) -> None:
    """What a hand copy or a clock step does to file times (kind: master or metalogger)."""
    from moosefs.history import kind_of
    for name in os.listdir(data):
        if kind_of(name) == kind:
            moment = time.time() + seconds
            os.utime(os.path.join(data, name), (moment, moment))


MTIME_LIES = {  # how the files' times lie: (kind of files, shift in seconds)
    "as-written": None,
    "copied-with-cp": ("master", 0),
    "clock-an-hour-ahead-then": ("master", 3600),
    "clock-an-hour-behind-now": ("metalogger", -3600),
}


@pytest.mark.parametrize("lie", sorted(MTIME_LIES))
def test_diverged_leftovers_are_set_aside_and_the_cluster_history_restored(lab, tmp_path, lie):
    a, b = bring_up(lab)
    common = lab.write_files("common", 100, seed=3)
    wait_caught_up(a, b)
    # b is held back while a writes on: those changes become an abandoned branch.
    Metalogger(b.metalogger_cfg, b.data).stop(20)
    lab.write_files("abandoned", 120, seed=4)
    os.kill(a.master_pid(), 9)
    wait_until(lambda: not a.master_pid(), 10, what="master to die")
    version_a = master_version(a)
    promote(b)  # an administrator forces the stale node: a's last changes are lost
    newer = lab.write_files("after", 20, seed=5)
    assert master_version(b) < version_a, "the new branch must stay below the abandoned one"
    # a follows b as a metalogger; its own master files are now a diverged history.
    start_metalogger(a)
    wait_caught_up(b, a)
    os.kill(b.master_pid(), 9)
    wait_until(lambda: not b.master_pid(), 10, what="master b to die")
    expected_version = master_version(b)
    Metalogger(a.metalogger_cfg, a.data).stop(20)
    # Copied once nothing writes in it: a running metalogger renames its .tmp files away
    # under a copy (CI saw changelog_ml.tmp vanish mid-copytree).
    snapshot = str(tmp_path / "raw")
    shutil.copytree(a.data, snapshot)
    if MTIME_LIES[lie]:
        shift_mtimes(a.data, *MTIME_LIES[lie])
    # The cluster knows b was its last master (b's own promote recorded it), near here.
    known = Known(expected_version - 5, last_master_here=False,
                  fingerprint=change_fingerprint(b.data, expected_version - 5))
    assert known.fingerprint
    found = inspect.inspect(a.data, thorough=True, known=known)
    assert found.source == "metalogger" and found.version == expected_version, found.summary()
    assert version_a > expected_version  # the abandoned branch is the higher one
    result = promote(a, known=known)
    assert result.version == expected_version and result.archive
    lab.assert_files(common)
    lab.assert_files(newer)
    assert not os.path.exists(os.path.join(lab.mountpoint, "abandoned"))
    # What raw `mfsmaster -a` makes of the same directory, for the record.
    raw = raw_restore(lab, snapshot)
    print("raw mfsmaster -a on the same directory: %r; this package: %d" % (raw, expected_version))
    assert raw != expected_version, "raw mfsmaster -a unexpectedly restored the right history"


def raw_restore(lab, data_path) -> int | str:
    cfg_path = os.path.join(lab.base, "raw.cfg")
    with open(cfg_path, "w") as stream:
        stream.write(lab.master_cfg_text(lab.node("a")).replace(lab.node("a").data, data_path)
                     .replace("PORT = %d" % ML_PORT, "PORT = %d" % (ML_PORT + 100))
                     .replace("PORT = %d" % CS_PORT, "PORT = %d" % (CS_PORT + 100))
                     .replace("PORT = %d" % CL_PORT, "PORT = %d" % (CL_PORT + 100)))
    shutil.chown(data_path, "mfs", "mfs")
    for name in os.listdir(data_path):
        if name.startswith(".mfs"):
            os.unlink(os.path.join(data_path, name))
        else:
            shutil.chown(os.path.join(data_path, name), "mfs", "mfs")
    done = subprocess.run(["mfsmaster", "-a", "-c", cfg_path, "restore"], capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        return "failed: " + (done.stderr or done.stdout).strip().splitlines()[-1]
    from moosefs.files import read_image
    return read_image(os.path.join(data_path, "metadata.mfs")).version


def test_stale_lock_never_blocks_a_start_and_a_second_start_adds_no_master(lab):
    node = lab.node("a")
    with open(os.path.join(node.data, "metadata.mfs"), "wb") as stream:
        stream.write(b"MFSM NEW")
    with open(os.path.join(node.data, ".mfsmaster.lock"), "w") as stream:
        stream.write("999999\n")  # a lock file left by a process that is gone
    for name in os.listdir(node.data):
        shutil.chown(os.path.join(node.data, name), "mfs", "mfs")
    master = Master(node.master_cfg, node.data)
    assert master.pid() == 0  # the stale lock names no running master
    started = time.monotonic()
    master.start(30)
    assert time.monotonic() - started < 10 and master.pid()
    first = master.pid()
    master.start(30)
    assert master.pid() == first
    assert master.stop(30) and master.pid() == 0
    assert os.path.exists(os.path.join(node.data, "metadata.mfs"))


def test_a_30_node_refuses_to_restore_history_written_by_4x(lab4, monkeypatch):
    """A rolling upgrade half done: 4.x wrote the metadata, this node still has 3.0."""
    if shutil.which("mfsmaster", path="/usr/sbin") is None:
        pytest.skip("needs Debian's moosefs-master 3.0 beside MooseFS 4")
    a = lab4.node("a")
    promote(a, allow_create=True)
    lab4.start_chunkserver()
    lab4.wait_chunkserver_registered()
    lab4.mount()
    files = lab4.write_files("four", 20, seed=21)
    assert Master(a.master_cfg, a.data).stop(30)
    before = sorted(os.listdir(a.data))
    from moosefs import generation
    old = generation.detect("/usr/sbin/mfsmaster")
    assert old.version[0] == 3
    with pytest.raises(RestoreError, match="written by MooseFS 4 .*PATT.* MooseFS 3.0.117 "
                                           "on this node cannot read: upgrade"):
        restore(config.master(a.master_cfg), Deadline(60, reserve=0),
                Archiver(default_folder(a.data)), generation=old)
    assert sorted(os.listdir(a.data)) == before
    result = promote(a)  # the 4.x binaries restore the same files
    assert result.version >= 1
    lab4.assert_files(files)


def test_cold_start_after_a_clean_shutdown_the_last_master_wins_with_its_own_files(lab):
    a, b = bring_up(lab)
    files = lab.write_files("before-shutdown", 60, seed=31)
    wait_caught_up(a, b)
    assert Master(a.master_cfg, a.data).stop(30)  # clean: metadata.mfs at the last version
    last = read_image(os.path.join(a.data, "metadata.mfs")).version
    Metalogger(b.metalogger_cfg, b.data).stop(20)
    shift_mtimes(a.data, "metalogger", 3600)  # a clock step must not change the choice
    known = Known(last, True, change_fingerprint(a.data, last))
    found = inspect.inspect(a.data, thorough=True, known=known)
    assert (found.verdict, found.source, found.version) == ("restorable", "master", last)
    follower = inspect.inspect(b.data, thorough=True, known=Known(last, False, known.fingerprint))
    assert follower.restorable and follower.version <= last
    assert promote(a, known=known).version == last
    lab.assert_files(files)


def test_cold_start_after_a_crash_of_every_node(lab):
    a, b = bring_up(lab)
    files = lab.write_files("before-crash", 60, seed=32)
    wait_caught_up(a, b)
    recorded = master_version(a)  # what the last high-water mark said (it lags)
    files.update(lab.write_files("after-mark", 30, seed=33))
    wait_caught_up(a, b)
    for pid in (a.master_pid(), b.metalogger_pid()):
        os.kill(pid, 9)
    wait_until(lambda: not a.master_pid() and not b.metalogger_pid(), 10, what="both to die")
    known = Known(recorded, True, change_fingerprint(a.data, recorded))
    assert known.fingerprint
    result = promote(a, known=known)
    assert result.inspection.source == "master" and result.version > recorded
    lab.assert_files(files)


def test_a_crashed_last_master_whose_metaloggers_are_fresher_yields(lab):
    a, b = bring_up(lab)
    files = lab.write_files("all", 80, seed=34)
    wait_caught_up(a, b)
    reached = master_version(a)
    os.kill(a.master_pid(), 9)
    wait_until(lambda: not a.master_pid(), 10, what="master to die")
    # a's own changelog lost its last changes (they were in its page cache).
    log = os.path.join(a.data, "changelog.0.mfs")
    lines = open(log, "rb").read().splitlines(keepends=True)
    open(log, "wb").write(b"".join(lines[:-10]))
    known = Known(reached, True)
    mine = inspect.inspect(a.data, thorough=True, known=known)
    # Its own files no longer reach the mark: they are not the cluster's newest history,
    # and a has no metalogger files: nothing here to promote.
    assert mine.source == "metalogger" and not mine.restorable, mine.summary()
    with pytest.raises(RestoreError, match="cannot be restored safely"):
        restore(config.master(a.master_cfg), Deadline(60, reserve=0),
                Archiver(default_folder(a.data)), minimum_version=reached, known=known)
    peer_known = Known(reached, False)
    assert promote(b, known=peer_known).version == reached
    lab.assert_files(files)


def test_fast_stop_ends_only_the_data_writer_and_loses_no_change(lab):
    from moosefs.daemons import data_writer
    a, b = bring_up(lab)
    files = lab.write_files("before-stop", 80, seed=41)
    wait_caught_up(a, b)
    master = Master(a.master_cfg, a.data)
    writer = data_writer(master.pid())
    title = open("/proc/%d/cmdline" % writer, "rb").read()
    assert writer and title.startswith(b"mfsmaster (data writer)"), title
    started = time.monotonic()
    clean, fast = master.stop_fast(30)
    seconds = time.monotonic() - started
    print("fast stop: %.2f s (clean=%s fast=%s)" % (seconds, clean, fast))
    assert clean and fast and seconds < 1.5
    stored = read_image(os.path.join(a.data, "metadata.mfs"))
    assert stored.valid
    # The proof the agent makes at every switchover: the follower reaches that version.
    wait_until(lambda: inspect.inspect(b.data, known=FOLLOWER).version == stored.version, 10,
               what="the metalogger to hold the stopped master's last change")
    assert promote(b, known=Known(stored.version, False)).version == stored.version
    lab.assert_files(files)


def test_changes_below_the_image_with_a_gap_are_kept_out_of_the_replay(lab, tmp_path):
    """Raw `mfsmaster -a` refuses old changes below the image followed by a gap ("hole in
    change files"); the restore keeps them out (archived) and restores every change."""
    a, b, files = metalogger_with_old_changes_before_a_gap(lab)
    snapshot = str(tmp_path / "raw")
    shutil.copytree(b.data, snapshot)
    expected = master_version(a)
    raw = raw_restore(lab, snapshot)
    assert raw != expected and "failed" in str(raw), raw
    result = promote(b, known=Known(expected, False))
    assert result.version == expected and result.archive
    lab.assert_files(files)


