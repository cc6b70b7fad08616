"""Small per-node, per-instance state files in HA_RSCTMP (cleared at reboot, as /run is).

Used for facts an agent must remember between invocations on one node, such as
"this instance was promoted" or "the value last published", so that a monitor can
avoid calling cluster tools when nothing changed.
"""
from __future__ import annotations

import os
import time

# How long an update waits for another writer of the same state (each holds the lock
# for one small read and write).
LOCK_SECONDS = 10.0

DEFAULT_RSCTMP = "/run/resource-agents"


def rsc_tmp(environ: dict[str, str] | None = None) -> str:
    environ = environ if environ is not None else os.environ
    return environ.get("HA_RSCTMP") or DEFAULT_RSCTMP


class StateFile:
    """A dict of short strings persisted as `key=value` lines, written atomically."""

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
        """Read, change and write under an exclusive lock, so that no writer loses
        another's keys: an action's threads and a helper process it left behind may
        update one state at the same time."""
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        with open(self.path + ".lock", "a") as lock:
            if not lock_within(lock, LOCK_SECONDS):
                raise TimeoutError("%s stayed locked for %.0f s" % (lock.name, LOCK_SECONDS))
            current = self.read()
            current.update(values)
            self.write(current)

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class ValueFile:
    """One value of plain types (dict, list, str, int, None) persisted atomically with
    `marshal`, which costs no import (json pulls in `re`, several ms per monitor). For
    root's own files only: a missing, broken or foreign-version file reads as None."""

    def __init__(self, folder: str, name: str) -> None:
        self.path = StateFile(folder, name).path

    def read(self):
        import marshal
        try:
            with open(self.path, "rb") as stream:
                return marshal.loads(stream.read())
        except (OSError, ValueError, EOFError, TypeError):
            return None

    def write(self, value) -> None:
        import marshal
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        temporary = "%s.%d.tmp" % (self.path, os.getpid())
        with open(temporary, "wb") as stream:
            stream.write(marshal.dumps(value))
        os.replace(temporary, self.path)


def lock_within(stream, seconds: float) -> bool:
    """flock the open file `stream` exclusively, waiting at most `seconds` (a frozen
    holder must not hang an action until Pacemaker's timeout); False when it stayed
    locked."""
    import fcntl
    until = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= until:
                return False
            time.sleep(0.01)
