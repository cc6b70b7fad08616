"""Scenes of real MooseFS daemons on loopback (tests.mfslab) that several test
modules set up."""
from __future__ import annotations

import os
import shutil

from moosefs import config, inspect
from moosefs.archive import Archiver, default_folder
from moosefs.daemons import Master, Metalogger
from moosefs.files import read_image
from moosefs.history import Known
from moosefs.restore import restore
from procrun import Deadline
from tests.mfslab import wait_until


def promote(node, allow_create=False, known=None):
    cfg = config.master(node.master_cfg)
    Metalogger(node.metalogger_cfg, node.data).stop(20)
    result = restore(cfg, Deadline(60, reserve=0), Archiver(default_folder(node.data)),
                     allow_create=allow_create, known=known)
    Master(node.master_cfg, node.data).start(30)
    return result


def start_metalogger(node):
    Metalogger(node.metalogger_cfg, node.data).start(30)


FOLLOWER = Known(0, last_master_here=False)  # read a node's metalogger files, not its own


MASTER_HERE = Known(0, last_master_here=True)  # read a master's own files


def master_version(node) -> int:
    """A master's changelog is flushed as it goes: its directory restores to its version."""
    return inspect.inspect(node.data, known=MASTER_HERE).version


def wait_caught_up(master_node, ml_node, timeout=30):
    def same():
        target = master_version(master_node)
        return inspect.inspect(ml_node.data, known=FOLLOWER).version == target and target
    wait_until(same, timeout, step=0.3, what="metalogger %s to catch up" % ml_node.name)


def bring_up(lab):
    a, b = lab.node("a"), lab.node("b")
    first = promote(a, allow_create=True)
    assert first.inspection.verdict == "empty"  # a new file system
    # the master started from a complete image, not from the new-file-system marker, so
    # that metaloggers download one (moosefs.restore.create_new)
    assert read_image(os.path.join(a.data, "metadata.mfs.back")).signature == "MFSM 2.0"
    lab.start_chunkserver()
    lab.wait_chunkserver_registered()
    start_metalogger(b)
    lab.mount()
    return a, b


def metalogger_with_old_changes_before_a_gap(lab):
    """(master node a, killed; metalogger node b, stopped; the files written): b's
    current changelog starts with old changes below its image and a gap, which the
    restore cuts out (a Repair.CUT_PREFIX, a rewrite of the file by root)."""
    a = lab.node("a")
    promote(a, allow_create=True)
    lab.start_chunkserver()
    lab.wait_chunkserver_registered()
    lab.mount()
    files = lab.write_files("early", 60, seed=51)
    # A fresh file system has no image a metalogger can download until the master
    # stores one: a restart stores it.
    assert Master(a.master_cfg, a.data).stop(30)
    promote(a, known=MASTER_HERE)
    b = lab.node("b")
    start_metalogger(b)  # downloads an image at the current version, then follows
    wait_until(lambda: os.path.exists(os.path.join(b.data, "metadata_ml.mfs.back")), 30,
               what="the metalogger's first image")
    files.update(lab.write_files("late", 60, seed=52))
    wait_caught_up(a, b)
    Metalogger(b.metalogger_cfg, b.data).stop(20)
    image = read_image(os.path.join(b.data, "metadata_ml.mfs.back")).version
    own = b"".join(open(os.path.join(a.data, name), "rb").read() for name in
                   sorted(os.listdir(a.data), reverse=True) if name.startswith("changelog."))
    old = [line for line in own.splitlines(keepends=True)  # 4.x: in changelog.1.mfs
           if int(line.split(b":")[0]) < image - 20][:30]
    assert len(old) == 30, "needs changes well below the metalogger's image"
    # Old changes at the head of the metalogger's current changelog, as one that followed
    # another master before keeps them (seen in the namespace cluster).
    target = os.path.join(b.data, "changelog_ml.0.mfs")
    rest = open(target, "rb").read()
    open(target, "wb").write(b"".join(old) + rest)
    shutil.chown(target, "mfs", "mfs")
    os.kill(a.master_pid(), 9)
    wait_until(lambda: not a.master_pid(), 10, what="master to die")
    return a, b, files
