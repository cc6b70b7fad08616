"""scripts/moosefs4: where the 4.x tests find MooseFS 4, and what it says when it cannot."""
from __future__ import annotations

import os
import subprocess

from tests.moosefs_versions import NOT_AVAILABLE, SCRIPT


def run(tmp_path, **environ: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MFSHA_CACHE=str(tmp_path / "cache"))
    env.pop("MFSHA_MOOSEFS4", None)
    env.update(environ)
    return subprocess.run([SCRIPT, "--check"], capture_output=True, text=True, env=env,
                          timeout=60)


def test_a_broken_prefix_is_an_error_naming_it(tmp_path):
    done = run(tmp_path, MFSHA_MOOSEFS4=str(tmp_path / "opt-mfs4"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "MFSHA_MOOSEFS4=%s is not a MooseFS 4 prefix (needs sbin/mfsmaster -v saying 4.x, and "
        "mfsmetalogger, mfschunkserver, mfsmount)" % (tmp_path / "opt-mfs4")]


def test_no_tarball_means_not_available_with_one_line(tmp_path):
    done = run(tmp_path, MFSHA_MOOSEFS4_TARBALL=str(tmp_path / "none.tar.gz"))
    assert done.returncode == NOT_AVAILABLE and len(done.stderr.strip().splitlines()) == 1
    assert "no MooseFS 4" in done.stderr


def test_an_unbuilt_tarball_is_not_built_by_check(tmp_path):
    tarball = tmp_path / "moosefs-4.0.0.tar.gz"
    tarball.write_bytes(b"not really")
    done = run(tmp_path, MFSHA_MOOSEFS4_TARBALL=str(tarball))
    assert done.returncode == NOT_AVAILABLE and "is not built yet" in done.stderr
    assert not (tmp_path / "cache").exists()
