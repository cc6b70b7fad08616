"""The MooseFS package against real daemons on loopback, with a FUSE client and checksums."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from moosefs import config, inspect
from moosefs.archive import Archiver, default_folder
from moosefs.daemons import Master, Metalogger
from moosefs.restore import RestoreError, restore
from procrun import Deadline
from tests.mfslab import CL_PORT, CS_PORT, ML_PORT, wait_until



def promote(node, allow_create=False):
    cfg = config.master(node.master_cfg)
    Metalogger(node.metalogger_cfg, node.data).stop(20)
    result = restore(cfg, Deadline(60, reserve=0), Archiver(default_folder(node.data)),
                     allow_create=allow_create)
    Master(node.master_cfg, node.data).start(30)
    return result


def start_metalogger(node):
    Metalogger(node.metalogger_cfg, node.data).start(30)


def master_version(node) -> int:
    """A master's changelog is flushed as it goes: its directory restores to its version."""
    return inspect.inspect(node.data).version


def wait_caught_up(master_node, ml_node, timeout=30):
    def same():
        target = master_version(master_node)
        return inspect.inspect(ml_node.data).version == target and target
    wait_until(same, timeout, step=0.3, what="metalogger %s to catch up" % ml_node.name)


def bring_up(lab):
    a, b = lab.node("a"), lab.node("b")
    first = promote(a, allow_create=True)
    assert first.created_new
    lab.start_chunkserver()
    lab.wait_chunkserver_registered()
    start_metalogger(b)
    lab.mount()
    return a, b


def test_kill_master_restore_on_metalogger_keeps_every_file(lab):
    a, b = bring_up(lab)
    files = lab.write_files("one", 200, seed=1)
    wait_caught_up(a, b)
    version_at_kill = master_version(a)
    os.kill(a.master_pid(), 9)
    wait_until(lambda: not a.master_pid(), 10, what="master to die")
    assert Master(a.master_cfg, a.data).state() == "crashed"
    result = promote(b)
    assert result.version == version_at_kill
    lab.assert_files(files)
    files.update(lab.write_files("two", 50, seed=2))
    lab.assert_files(files)


def test_diverged_leftovers_are_set_aside_and_the_cluster_history_restored(lab, tmp_path):
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
    snapshot = str(tmp_path / "raw")
    shutil.copytree(a.data, snapshot)
    os.kill(b.master_pid(), 9)
    wait_until(lambda: not b.master_pid(), 10, what="master b to die")
    expected_version = master_version(b)
    Metalogger(a.metalogger_cfg, a.data).stop(20)
    found = inspect.inspect(a.data, thorough=True)
    assert found.source == "metalogger" and found.version == expected_version
    result = promote(a)
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
    import time
    node = lab.node("a")
    with open(os.path.join(node.data, "metadata.mfs"), "wb") as stream:
        stream.write(b"MFSM NEW")
    with open(os.path.join(node.data, ".mfsmaster.lock"), "w") as stream:
        stream.write("999999\n")  # a lock file left by a process that is gone
    for name in os.listdir(node.data):
        shutil.chown(os.path.join(node.data, name), "mfs", "mfs")
    master = Master(node.master_cfg, node.data)
    assert master.state() == "stopped"
    started = time.monotonic()
    master.start(30)
    assert time.monotonic() - started < 10 and master.state() == "running"
    first = master.pid()
    master.start(30)
    assert master.pid() == first
    assert master.stop(30) and master.state() == "stopped"
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
