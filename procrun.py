"""Run a command with a deadline, capture its output, kill its process group on expiry.

Shared by the OCF helper (ocf.proc) and the MooseFS package; it knows neither.
Built on os.posix_spawn and select instead of `subprocess`, whose import alone
costs more than a whole agent monitor should.
"""
from __future__ import annotations

import os
import select
import time

# Numbers, not the `signal` module: importing it pulls in `enum` (5 ms here).
SIGTERM = 15
SIGKILL = 9

STARTED_AT = time.monotonic()  # when this process began


class Deadline:
    """A point in monotonic time by which an action must be finished.

    `reserve` seconds are kept back from Pacemaker's timeout so that the agent can
    still report a clean failure (exit reason) before Pacemaker kills it.
    """

    def __init__(self, timeout: float | None, default: float = 20.0, reserve: float = 2.0,
                 start: float | None = None) -> None:
        # None: no timeout given; 0 or less: none left (never the default).
        total = default if timeout is None else max(0.0, timeout)
        reserve = min(reserve, total * 0.2)
        self.at = (start if start is not None else time.monotonic()) + total - reserve

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def sub(self, seconds: float) -> "Deadline":
        """A deadline at most `seconds` from now, never later than this one."""
        child = Deadline.__new__(Deadline)
        child.at = min(self.at, time.monotonic() + seconds)
        return child


def find_binary(name: str, environ: dict[str, str] | None = None) -> str | None:
    environ = environ if environ is not None else os.environ
    if "/" in name:
        return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
    path = environ.get("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin"
    for folder in path.split(":"):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class Result:
    __slots__ = ("argv", "returncode", "stdout", "stderr", "timed_out")

    def __init__(self, argv: list[str], returncode: int, stdout: str, stderr: str,
                 timed_out: bool) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """A one-line account for logs and exit reasons."""
        what = " ".join(self.argv)
        if self.timed_out:
            return "%s: timed out" % what
        detail = (self.stderr.strip() or self.stdout.strip()).splitlines()
        tail = detail[-1] if detail else ""
        return "%s: exit %d%s" % (what, self.returncode, (": " + tail) if tail else "")


def run(argv: list[str], deadline: Deadline | float | None = None,
        env: dict[str, str] | None = None, stdin_data: bytes | None = None) -> Result:
    """Run `argv`, capture its output, and kill its process group at the deadline.

    `deadline` is a Deadline or a number of seconds. A binary that cannot be started
    gives returncode 127, as a shell would.
    """
    if isinstance(deadline, (int, float)):
        deadline = Deadline(float(deadline), reserve=0.0)
    elif deadline is None:
        deadline = Deadline(None, default=60.0, reserve=0.0)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r = in_w = -1
    if stdin_data is not None:
        in_r, in_w = os.pipe()
    else:
        in_r = os.open(os.devnull, os.O_RDONLY)
    actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
               (os.POSIX_SPAWN_DUP2, err_w, 2)]
    path = find_binary(argv[0], env)
    try:
        if path is None:
            raise FileNotFoundError(argv[0])
        pid = os.posix_spawn(path, argv, env if env is not None else os.environ,
                             file_actions=actions, setsid=True)
    except OSError as error:
        for fd in (out_r, out_w, err_r, err_w, in_r, in_w):
            if fd >= 0:
                os.close(fd)
        return Result(argv, 127, "", "%s: %s" % (argv[0], error.strerror or error), False)
    os.close(out_w)
    os.close(err_w)
    os.close(in_r)
    if in_w >= 0:
        try:
            os.write(in_w, stdin_data or b"")
        except OSError:
            pass
        os.close(in_w)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    open_fds = [out_r, err_r]
    timed_out = False
    while open_fds:
        remaining = deadline.remaining()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select(open_fds, [], [], min(remaining, 1.0))
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                open_fds.remove(fd)
    if timed_out:
        _kill_group(pid)
    status = _wait(pid, deadline if not timed_out else None)
    for fd in (out_r, err_r):
        os.close(fd)
    if status is None:  # output closed but the child lingers past the deadline
        timed_out = True
        _kill_group(pid)
        status = _wait(pid, None)
    returncode = os.waitstatus_to_exitcode(status) if status is not None else -9
    return Result(argv, returncode, b"".join(chunks[out_r]).decode("utf-8", "replace"),
                  b"".join(chunks[err_r]).decode("utf-8", "replace"), timed_out)


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, SIGKILL), lambda: os.kill(pid, SIGKILL)):
        try:
            target()
            return
        except OSError:
            continue


def _wait(pid: int, deadline: Deadline | None) -> int | None:
    """waitpid with an optional deadline; None if the child is still running then."""
    while True:
        try:
            done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        except ChildProcessError:
            return 0
        if done:
            return status
        if deadline is not None and deadline.expired():
            return None
        time.sleep(0.01)
