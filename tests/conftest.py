import os
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def public_tmp():
    """A fresh folder under /tmp that daemons running as mfs, or `su nobody`, can
    traverse (pytest's own tmp_path lies below a folder only root may enter)."""
    folder = tempfile.mkdtemp(prefix="mfsha-test-", dir="/tmp")
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _use_moosefs(line: str, monkeypatch) -> str | None:
    """Debian's 3.0 from PATH, or 4.x from the prefix scripts/moosefs4 names (the test is
    skipped, with its reason, when there is none). The 4.x prefix goes first on PATH, for
    the test and for every agent it runs."""
    from tests.moosefs_versions import installed_prefix
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if line == "3.0":
        if shutil.which("mfsmaster") is None:
            pytest.skip("needs Debian's moosefs-* 3.0 packages")
        return None
    prefix = installed_prefix()
    monkeypatch.setenv("PATH", "%s/sbin:%s/bin:%s" % (prefix, prefix, os.environ["PATH"]))
    return prefix


@pytest.fixture(params=["3.0", "4.x"])
def moosefs(request, monkeypatch):
    """Each real-daemon test runs once per MooseFS line; the value is the 4.x prefix."""
    return _use_moosefs(request.param, monkeypatch)


@pytest.fixture
def moosefs4(monkeypatch):
    """For tests about MooseFS 4 alone: the 4.x prefix, first on PATH."""
    return _use_moosefs("4.x", monkeypatch)


def _lab(public_tmp: str):
    from tests.mfslab import Lab
    lab = Lab(os.path.join(public_tmp, "lab"))
    try:
        yield lab
    finally:
        lab.teardown()


@pytest.fixture
def lab(public_tmp, moosefs):
    """Real MooseFS daemons on loopback (tests.mfslab), always torn down."""
    yield from _lab(public_tmp)


@pytest.fixture
def lab4(public_tmp, moosefs4):
    """Like `lab`, with MooseFS 4 only."""
    yield from _lab(public_tmp)
