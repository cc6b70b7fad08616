"""A process that outlives its caller: the caller neither waits for it nor reads its
output (Pacemaker waits for an action's pipes to close; ucarp waits for its hooks)."""
from __future__ import annotations

import os


def detach(job, on_forked=None) -> None:
    """Run `job()` (it returns an exit code) in a grandchild, in a session of its own,
    with stdin, stdout and stderr on /dev/null and no other descriptor of the caller's
    open. `on_forked(pid)` runs in the middle child once the grandchild exists. The
    caller returns as soon as the middle child is gone."""
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:
        os.setsid()
        _null_stdio()
        worker = os.fork()
        if worker == 0:
            code = 1
            try:
                code = job()
            finally:
                os._exit(code)
        if on_forked is not None:
            on_forked(worker)
    finally:
        os._exit(0)


def _null_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(null, descriptor)
    os.closerange(3, 1 << 16)
