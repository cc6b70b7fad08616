"""ucarp's up and down hooks, on the failover core (the `failover` package).

ucarp runs a hook and waits for it, sending no advertisement meanwhile; after
advbase * deadratio seconds (3 s by default) another node would take the address too.
So `up` only adds the address and hands the promotion to a detached worker: wait
SETTLE_TIME for ucarp's election to settle, then the core's promote sequence (stop the
metalogger, read the mark, inspect, elect against the peers' answers, restore safely),
start mfsmaster and wait until it serves. When the worker refuses or fails it steps
down (metalogger back, address removed) and sends ucarp SIGUSR2, which makes ucarp
give the address up (BACKUP for 3 s at least) so that another node takes it over.

`down` stops mfsmaster cleanly, starts the metalogger and removes the address. A lock
file in STATE_DIR serialises the worker, the hooks and the responder's metalogger
restart, so one node never runs two daemons' transitions at once and never starts a
second master.
"""
from __future__ import annotations

import contextlib
import os
import signal
import time

from failover.election import Rules, Words
from failover.mark import Freshness
from failover.promote import CannotTell
from failover.steps import StepFailed
from procrun import Deadline, run

from .freshness import Answer, LocalMark, ask_peers, learn_from_metalogger, local_node
from .settings import Settings

WORDS = Words("set ALLOW_DATA_LOSS = 1", "set ALLOW_NEW_FILESYSTEM = 1",
              "raise the local mark by hand in STATE_DIR/high-water-mark")


class HookError(Exception):
    """A one-line reason why a hook could not do its job."""


def rules(settings: Settings) -> Rules:
    return Rules(settings.flag("ALLOW_DATA_LOSS"), settings.flag("ALLOW_NEW_FILESYSTEM"), WORDS)


def learn_marks(mark: LocalMark, answers: dict[str, Answer | None], metaid: int) -> None:
    """A version an authenticated peer of this very file system (the same metadata id,
    known on both sides) holds or knows a master reached raises the local mark."""
    for peer, answer in answers.items():
        if answer and metaid and answer.metaid == metaid:
            mark.raise_to(Freshness(max(answer.version, answer.mark), metaid, peer))


@contextlib.contextmanager
def locked(settings: Settings, seconds: float):
    """The hooks' lock (STATE_DIR/lock), waited for at most `seconds` (0: tried once)."""
    from ocf.state import lock_within
    folder = settings.text("STATE_DIR")
    os.makedirs(folder, mode=0o750, exist_ok=True)
    with open(os.path.join(folder, "lock"), "w") as stream:
        if not lock_within(stream, seconds):
            raise HookError("another hook still runs after %.0f s" % seconds)
        yield


def scan_store(settings: Settings):
    from ocf.state import ValueFile
    return ValueFile(settings.text("STATE_DIR"), "scans")


def archiver(settings: Settings, node):
    return node.archiver(settings.text("ARCHIVE_DIR"), int(settings.number("ARCHIVE_KEEP")),
                         int(settings.number("ARCHIVE_MAX_MB")))


class UcarpCluster:
    """failover.promote.Cluster as ucarp nodes know it: the mark in STATE_DIR, raised
    by what the peers answer; the peers asked over the network."""

    def __init__(self, hooks: "Hooks") -> None:
        self.hooks = hooks
        self.me = hooks.mark.me
        self.answers: dict[str, Answer | None] | None = None

    def read_mark(self) -> Freshness | None:
        self.answers = self.hooks.ask_peers()
        return self.hooks.mark.read()

    def record_reached(self, version: int, metaid: int) -> None:
        mark = self.hooks.mark
        mark.raise_to(mark.reached_here(self.hooks.node.data_path, version, metaid))

    def mark_for_metalogger(self) -> Freshness | None:
        self.hooks.ask_peers()  # e.g. after a reboot: this node's mark may be long past
        return self.hooks.mark.read()

    def peers(self, own: Freshness | None) -> tuple[dict[str, Freshness], list[str]]:
        if self.answers is None:
            raise CannotTell("the peers were not asked")
        answers = {p: a for p, a in self.answers.items() if a is not None}
        return ({p: a.freshness() for p, a in answers.items()},
                [p for p, a in answers.items() if a.role == "master"])


class Hooks:
    def __init__(self, settings: Settings, log, iface: str, vip: str) -> None:
        self.settings = settings
        self.log = log
        self.iface = iface
        self.vip = vip
        self.node = local_node(settings)
        self.mark = LocalMark(settings)

    # -- the address ----------------------------------------------------------------------
    def _ip(self, verb: str) -> bool:
        address = "%s/%s" % (self.vip, int(self.settings.number("VIP_PREFIX")))
        return run(["ip", "addr", verb, address, "dev", self.iface], Deadline(10, reserve=0)).ok

    def add_address(self) -> None:
        if not self._ip("add") and not self.holds_address():
            raise HookError("cannot add %s to %s" % (self.vip, self.iface))

    def remove_address(self) -> None:
        if self.holds_address() and not self._ip("del"):
            raise HookError("cannot remove %s from %s" % (self.vip, self.iface))

    def holds_address(self) -> bool:
        result = run(["ip", "-o", "addr", "show", "dev", self.iface], Deadline(10, reserve=0))
        return any(field.split("/")[0] == self.vip for field in result.stdout.split())

    def locked(self, seconds: float):
        return locked(self.settings, seconds)

    # -- becoming the master ----------------------------------------------------------------
    def become_master(self) -> str:
        """The worker: "" once mfsmaster serves, else why it stepped down."""
        from failover.promote import Refused, promote
        from failover.steps import start_master
        settings, node, log = self.settings, self.node, self.log
        started = time.monotonic()
        deadline = Deadline(settings.number("START_TIMEOUT"), reserve=0)
        # Nodes whose timers ran out together all become MASTER; each hears the others'
        # advertisements within --advbase and all but one go back to BACKUP, whose down
        # hook removes the address. Only a node still holding it after that goes on.
        time.sleep(settings.number("SETTLE_TIME"))
        with self.locked(settings.number("STOP_TIMEOUT")):
            if node.master.pid():
                log.info("mfsmaster already runs here (pid %d)" % node.master.pid())
                return ""
            if not self.holds_address():
                log.info("%s is no longer here (ucarp went back to BACKUP): not becoming "
                         "the master" % self.vip)
                return ""
            try:
                done = promote(node, UcarpCluster(self), rules(settings),
                               archiver(settings, node), deadline, log, scan_store(settings))
                start_master(node, deadline, log)
            except Refused as refused:
                return self.step_down_after(refused.reason)
            except StepFailed as error:
                return self.step_down_after("start failed: %s" % error)
            result = done.result
            self.mark.write(self.mark.reached_here(node.data_path, result.version, result.metaid))
            log.info("master: metadata restored to version %d, mfsmaster serving (%.3f s)"
                     % (result.version, time.monotonic() - started))
            return ""

    def ask_peers(self) -> dict[str, Answer | None]:
        """The peers' answers, logged; what they hold or know raises the local mark first,
        so that this node's files are read with the cluster's history as far as known."""
        with self.log.step("peers") as step:
            answers = ask_peers(self.settings, self.log)
            step.note = ", ".join("%s %s" % (p, "no answer" if a is None else "version %d %s"
                                             % (a.version, a.role))
                                  for p, a in sorted(answers.items())) or "none configured"
        learn_from_metalogger(self.node, self.mark)
        current = self.mark.read()
        learn_marks(self.mark, answers, current.metaid if current else 0)
        return answers

    def step_down_after(self, why: str) -> str:
        self.log.error("not becoming the master: %s; handing %s on" % (why, self.vip))
        self.step_down()
        return why

    # -- stepping down --------------------------------------------------------------------------
    def step_down(self) -> None:
        """The core's step-down (failover.promote.step_down), then the address removed."""
        from failover.promote import step_down
        settings = self.settings
        try:
            step_down(self.node, UcarpCluster(self), settings.flag("FAST_STOP"),
                      archiver(settings, self.node), settings.number("STOP_TIMEOUT"), self.log)
        except StepFailed as error:
            raise HookError(str(error)) from None
        self.remove_address()


def restart_holed_metalogger(settings: Settings, node, mark: LocalMark, log, found) -> None:
    """The responder's part of the metalogger's upkeep (failover.steps.hole_needs_restart),
    under the hooks' lock, or not at all when a hook holds it."""
    from ocf.state import StateFile
    from failover import steps
    state = StateFile(settings.text("STATE_DIR"), "metalogger")
    if node.master.pid() or not node.metalogger.pid() or not steps.hole_needs_restart(
            found, float(state.read().get("hole_restart_at") or 0)):
        return
    try:
        with locked(settings, 0):
            state.update(hole_restart_at="%d" % time.time())
            steps.restart_metalogger(node, settings.number("STOP_TIMEOUT"),
                                     archiver(settings, node), mark.read(), mark.me, log,
                                     found.reason)
    except (HookError, StepFailed) as error:
        log.warning("metalogger not restarted: %s" % error)


def ucarp_parent() -> int:
    """The ucarp process that runs this hook (0 when run otherwise, e.g. by hand)."""
    parent = os.getppid()
    try:
        with open("/proc/%d/comm" % parent) as stream:
            return parent if stream.read().strip() == "ucarp" else 0
    except OSError:
        return 0


def up(hooks: Hooks) -> None:
    """Add the address, then promote in a detached worker (see the module's doc)."""
    from failover.detach import detach
    ucarp = ucarp_parent()
    hooks.add_address()
    hooks.log.info("%s added to %s; becoming the master" % (hooks.vip, hooks.iface))

    def worker() -> int:
        why, code = work(hooks)
        if why and ucarp:
            hooks.log.info("asking ucarp (pid %d) to give %s up" % (ucarp, hooks.vip))
            os.kill(ucarp, signal.SIGUSR2)
        return code
    detach(worker)


def work(hooks: Hooks) -> tuple[str, int]:
    """The detached worker's job: (why it did not become the master, exit code)."""
    try:
        return hooks.become_master(), 0
    except Exception as error:  # the worker has no caller: log, step down, hand on
        hooks.log.error("becoming the master failed: %s" % error)
        try:
            # Under the lock, or not at all: without it another hook may be restoring
            # or starting the master on this DATA_PATH right now.
            with hooks.locked(hooks.settings.number("STOP_TIMEOUT")):
                hooks.step_down()
        except Exception as again:
            hooks.log.error("not stepping down: %s" % again)
        return str(error), 1


def down(hooks: Hooks) -> None:
    seconds = hooks.settings.number("START_TIMEOUT") + hooks.settings.number("STOP_TIMEOUT")
    with hooks.locked(seconds):
        hooks.step_down()
    hooks.log.info("%s removed from %s; metalogger running" % (hooks.vip, hooks.iface))
