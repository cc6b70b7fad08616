"""crm-examples/ checked offline against an empty CIB (both dialects). The live test of
mfsmaster.crm and mfsmaster.pcs is in tests/cluster/."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.agentlib import ROOT, as_if_installed, install
from tests.packaging.tools import EMPTY_CIB


@pytest.mark.skipif(shutil.which("crm") is None or shutil.which("crm_verify") is None,
                    reason="needs crmsh and pacemaker-cli-utils")
@pytest.mark.parametrize("example,element", [("mfsmaster.crm", "<clone id=\"mfs-clone\""),
                                             ("mfsmaster-legacy.crm", "<master id=\"mfs-clone\"")])
def test_crm_example_loads_and_verifies(tmp_path, public_tmp, example, element):
    cib = tmp_path / "cib.xml"
    cib.write_text(EMPTY_CIB)
    text = open(os.path.join(ROOT, "crm-examples", example)).read()
    # Offline there is no fence device to define; the live cluster test has one.
    script = tmp_path / "example.crm"
    script.write_text(text.replace("stonith-enabled=true", "stonith-enabled=false"))
    env = dict(os.environ, CIB_file=str(cib))
    # crmsh checks the agent's meta-data, and finds agents only under /usr/lib/ocf.
    destdir = os.path.join(public_tmp, "destdir")
    install(destdir)
    loaded = subprocess.run(as_if_installed(["crm", "configure", "load", "update", str(script)],
                                            destdir),
                            env=env, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    verified = subprocess.run(["crm_verify", "-L"], env=env, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    xml = cib.read_text()
    assert element in xml and 'type="mfsmaster"' in xml and 'provider="mfsha"' in xml
    assert 'symmetrical="false"' in xml
