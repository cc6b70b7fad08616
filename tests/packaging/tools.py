"""What the packaging, metrics and cluster tests share: an empty CIB to load examples
into, `make deb` into a folder of the caller's, and promtool (scripts/promtool)."""
from __future__ import annotations

import os
import subprocess

from tests.agentlib import ROOT

EMPTY_CIB = ('<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" '
             'num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/><resources/>'
             '<constraints/></configuration><status/></cib>')


def build_deb(out: str | None = None) -> str:
    """`make deb` (into `out` when given, else build/deb): the .deb's absolute path,
    lintian without error or warning (information tags are allowed)."""
    # Not inside `make check`'s make: a nested make prints "Leaving directory" lines.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    if out:
        environ["MFSHA_DEB_OUT"] = out
    built = subprocess.run(["make", "-s", "-C", ROOT, "deb"], capture_output=True, text=True,
                           timeout=600, env=environ)
    assert built.returncode == 0, built.stdout[-1000:] + built.stderr[-2000:]
    assert "E: " not in built.stdout and "W: " not in built.stdout, built.stdout
    path = [line for line in built.stdout.splitlines() if line.endswith(".deb")][-1]
    return os.path.join(ROOT, path)


def promtool() -> str | None:
    """A promtool's path (scripts/promtool fetches one once), None when none can be had."""
    done = subprocess.run([os.path.join(ROOT, "scripts", "promtool")], capture_output=True,
                          text=True, timeout=300)
    return done.stdout.strip() if done.returncode == 0 else None


def promtool_says(checker: str, argv: list[str], text: str | None = None) -> str:
    """What `promtool ARGV` objects to ("" when it passes with nothing to say)."""
    done = subprocess.run([checker] + argv, input=text, capture_output=True, text=True,
                          timeout=60)
    if done.returncode == 0 and (text is None or done.stdout + done.stderr == ""):
        return ""
    return "promtool %s: exit %d: %s" % (" ".join(argv), done.returncode,
                                         done.stdout + done.stderr)
