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


@pytest.fixture
def lab(public_tmp):
    """Real MooseFS daemons on loopback (tests.mfslab), always torn down."""
    from tests.mfslab import Lab
    lab = Lab(os.path.join(public_tmp, "lab"))
    try:
        yield lab
    finally:
        lab.teardown()
