"""Small per-node, per-instance state files in HA_RSCTMP (cleared at reboot, as /run is).

Used for facts an agent must remember between invocations on one node, such as
"this instance was promoted" or "the value last published", so that a monitor can
avoid calling cluster tools when nothing changed.
"""
from __future__ import annotations

import os

DEFAULT_RSCTMP = "/run/resource-agents"


def rsc_tmp(environ: dict[str, str] | None = None) -> str:
    environ = environ if environ is not None else os.environ
    return environ.get("HA_RSCTMP") or DEFAULT_RSCTMP


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> bool:
        return False


class StateFile:
    """A dict of short strings persisted as `key=value` lines, written atomically."""

    # An action that updates state files from several threads sets a threading.Lock
    # here, so that no read-modify-write loses another's keys. (Not imported by default:
    # the monitor never needs it.)
    lock = _NoLock()

    def __init__(self, folder: str, name: str) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.path = os.path.join(folder, safe)

    def read(self) -> dict[str, str]:
        try:
            with open(self.path) as stream:
                lines = stream.read().splitlines()
        except OSError:
            return {}
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def write(self, values: dict[str, str]) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        temporary = "%s.%d.tmp" % (self.path, os.getpid())  # a helper process may write too
        with open(temporary, "w") as stream:
            stream.write("".join("%s=%s\n" % item for item in sorted(values.items())))
        os.replace(temporary, self.path)

    def update(self, **values: str) -> None:
        with StateFile.lock:
            current = self.read()
            current.update(values)
            self.write(current)

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
