"""make install / uninstall into a DESTDIR, and the installed agent run as Pacemaker would."""
from __future__ import annotations

import os
import shutil
import subprocess

from tests.agentlib import ROOT


def files_under(folder: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, names in os.walk(folder) for f in names)


def test_install_layout_run_and_uninstall(public_tmp):
    destdir = public_tmp
    make = ["make", "-s", "-C", ROOT, "DESTDIR=" + destdir, "OCF_ROOT=/usr/lib/ocf",
            "PROVIDER=mfsha"]
    subprocess.run(make + ["install"], check=True, stdout=subprocess.DEVNULL)
    installed = files_under(destdir)
    agent = os.path.join(destdir, "usr/lib/ocf/resource.d/mfsha/mfsmaster")
    assert "usr/lib/ocf/resource.d/mfsha/mfsmaster" in installed
    assert "usr/lib/ocf/lib/mfsha/mfsha/agent.py" in installed
    assert "usr/lib/ocf/lib/mfsha/ocf/dispatch.py" in installed
    assert "usr/lib/ocf/lib/mfsha/moosefs/restore.py" in installed
    assert "usr/lib/ocf/lib/mfsha/procrun.py" in installed
    assert "usr/lib/ocf/lib/mfsha/failover/election.py" in installed
    assert "usr/sbin/mfsha" in installed
    assert {"usr/sbin/mfsha-ucarp", "usr/libexec/mfsha/ucarp-up", "usr/libexec/mfsha/ucarp-down",
            "usr/lib/ocf/lib/mfsha/ucarp/hooks.py"} <= set(installed)
    assert {"usr/share/man/man7/ocf_mfsha_mfsmaster.7", "usr/share/man/man8/mfsha.8"} <= \
        set(installed)
    page = open(os.path.join(destdir, "usr/share/man/man7/ocf_mfsha_mfsmaster.7")).read()
    assert page.startswith(".TH OCF_MFSHA_MFSMASTER 7") and "\\fBfast_stop\\fR" in page
    mfsha = os.path.join(destdir, "usr/sbin/mfsha")
    assert '"/usr/lib/ocf/lib/mfsha"' in open(mfsha).read()
    assert os.stat(agent).st_mode & 0o777 == 0o755
    # Debian's python3 with a minimal environment, from another folder, as nobody if root.
    command = ["/usr/bin/python3", agent, "meta-data"]
    if os.geteuid() == 0 and shutil.which("su"):
        command = ["su", "nobody", "-s", "/bin/sh", "-c", "%s meta-data" % agent]
    done = subprocess.run(command, capture_output=True, text=True, cwd="/",
                          env={"PATH": "/usr/bin:/bin", "OCF_ROOT": "/usr/lib/ocf"})
    assert done.returncode == 0, done.stderr
    assert '<resource-agent name="mfsmaster"' in done.stdout
    probe = subprocess.run([agent, "monitor"], capture_output=True, text=True, cwd="/",
                           env={"PATH": "/usr/bin:/bin", "OCF_RESKEY_master_cfg": "/nonexistent"})
    assert probe.returncode == 7, probe.stderr
    # ucarp runs a hook by its path: the libexec wrappers run the mfsha-ucarp next to them
    # (the namespace lab runs them for real, tests/cluster/test_ucarp.py).
    for verb in ("up", "down"):
        wrapper = open(os.path.join(destdir, "usr/libexec/mfsha/ucarp-" + verb)).read()
        assert '/../../sbin/mfsha-ucarp" %s "$@"' % verb in wrapper
    assert open(os.path.join(destdir, "usr/sbin/mfsha-ucarp")).read() == open(mfsha).read()
    subprocess.run(make + ["uninstall"], check=True, stdout=subprocess.DEVNULL)
    assert files_under(destdir) == []
    assert not os.path.exists(os.path.join(destdir, "usr/lib/ocf/lib/mfsha"))
    assert not os.path.exists(os.path.join(destdir, "usr/lib/ocf/resource.d/mfsha"))
