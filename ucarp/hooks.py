"""ucarp's up and down hooks.

ucarp runs a hook and waits for it, sending no advertisement meanwhile; after
advbase * deadratio seconds (3 s by default) another node would take the address too.
So `up` only adds the address and hands the promotion to a detached worker: wait
SETTLE_TIME for ucarp's election to settle, stop the metalogger, ask the peers, refuse or restore safely (moosefs.restore), start mfsmaster
and wait until it serves. When the worker refuses or fails it steps down (metalogger
back, address removed) and sends ucarp SIGUSR2, which makes ucarp give the address up
(BACKUP for 3 s at least) so that another node takes it over.

`down` stops mfsmaster cleanly, starts the metalogger and removes the address. A lock
file in STATE_DIR serialises the worker and the hooks, so one node never runs both
daemons' transitions at once and never starts a second master.
"""
from __future__ import annotations

import contextlib
import os
import signal
import time

from procrun import Deadline, run

from .freshness import Answer, LocalMark, Mark, Node, ask_peers
from .settings import Settings


class HookError(Exception):
    """A one-line reason why a hook could not do its job."""


def refusal(found, answers: dict[str, Answer | None], mark: Mark,
            allow_new: bool, allow_loss: bool) -> str:
    """Why this node must not become the master ("" when it may). `found` is this node's
    inspection (moosefs.inspect), `answers` the peers', `mark` the local high-water mark.
    The safe restore checks the mark again on the files themselves."""
    version = found.version if found.restorable else 0
    metaid = found.metaid if found.restorable else 0
    masters = [p for p, a in answers.items() if a and a.role == "master"]
    if masters:
        return "peer %s already runs mfsmaster" % masters[0]
    if not found.restorable and found.verdict != "empty":
        return "metadata in %s cannot be restored: %s" % (found.data_path, found.reason)
    fresher = sorted(((a.version, p) for p, a in answers.items()
                      if a and a.same_filesystem(metaid) and a.version > version), reverse=True)
    if fresher and not allow_loss:
        return "peer %s holds fresher metadata (version %d, here %s)" % (
            fresher[0][1], fresher[0][0], version or "none")
    if not found.restorable:
        someone_has = any(a and a.version for a in answers.values())
        if not allow_new or mark.version or someone_has:
            return ("no metadata in %s%s" % (found.data_path, "" if allow_new else
                    "; set ALLOW_NEW_FILESYSTEM = 1 to create a new file system"))
        return ""
    if mark.version > version and not allow_loss:
        return ("metadata here restores to version %d, below the version %d a master "
                "reached; set ALLOW_DATA_LOSS = 1 to force it" % (version, mark.version))
    return ""


def learn_marks(mark: LocalMark, answers: dict[str, Answer | None], metaid: int) -> None:
    """A version an authenticated peer of this very file system (the same metadata id,
    known on both sides) holds or knows a master reached raises the local mark."""
    for answer in answers.values():
        if answer and metaid and answer.metaid == metaid:
            mark.raise_to(max(answer.version, answer.mark), metaid, here=False)


class Hooks:
    def __init__(self, settings: Settings, log, iface: str, vip: str) -> None:
        self.settings = settings
        self.log = log
        self.iface = iface
        self.vip = vip
        self.node = Node(settings)
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

    # -- the lock ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, seconds: float):
        """The hooks' lock (STATE_DIR/lock), waited for at most `seconds`."""
        from ocf.state import lock_within
        folder = self.settings.text("STATE_DIR")
        os.makedirs(folder, mode=0o750, exist_ok=True)
        with open(os.path.join(folder, "lock"), "w") as stream:
            if not lock_within(stream, seconds):
                raise HookError("another hook still runs after %.0f s" % seconds)
            yield

    # -- becoming the master ----------------------------------------------------------------
    def become_master(self) -> str:
        """The worker: "" once mfsmaster serves, else why it stepped down."""
        from moosefs.daemons import DaemonError, wait_serving
        from moosefs.restore import RestoreError, restore
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
            with log.step("metalogger stop"):
                node.metalogger.stop(settings.number("STOP_TIMEOUT"))
            answers = self.ask_peers()
            found = node.inspect(self.mark)
            mark = self.mark.read()
            why = refusal(found, answers, mark, settings.flag("ALLOW_NEW_FILESYSTEM"),
                          settings.flag("ALLOW_DATA_LOSS"))
            if why:
                return self.step_down_after(why)
            enforce = mark.version and not settings.flag("ALLOW_DATA_LOSS")
            try:
                with log.step("restore") as step:
                    result = restore(node.master_cfg, deadline, self.archiver(),
                                     allow_create=not found.restorable,
                                     expect_metaid=mark.metaid if enforce else 0,
                                     minimum_version=mark.version if enforce else 0,
                                     known=self.mark.known())
                    step.note = "version %d" % result.version
                if result.archive:
                    log.info("files set aside before the restore: %s" % result.archive)
                with log.step("master start"):
                    node.master.start(deadline.remaining())
            except (RestoreError, DaemonError) as error:
                return self.step_down_after("restore or start failed: %s" % error)
            port = node.master_cfg.integer("MATOCL_LISTEN_PORT")
            if not wait_serving(node.master_cfg.get("MATOCL_LISTEN_HOST"), port, deadline):
                return self.step_down_after("mfsmaster does not accept connections on port %d"
                                            % port)
            self.mark.raise_to(result.version, result.metaid, here=True, always=True)
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
        learn_marks(self.mark, answers, self.mark.read().metaid)
        return answers

    def step_down_after(self, why: str) -> str:
        self.log.error("not becoming the master: %s; handing %s on" % (why, self.vip))
        self.step_down()
        return why

    def archiver(self):
        from moosefs.archive import Archiver, default_folder
        return Archiver(self.settings.text("ARCHIVE_DIR") or default_folder(self.node.data_path))

    # -- stepping down --------------------------------------------------------------------------
    def step_down(self) -> None:
        """Master stopped cleanly (its version raises the mark), metalogger started,
        address removed; each step is skipped when already done."""
        from moosefs.daemons import DaemonError
        from moosefs.files import read_image
        from moosefs.restore import RestoreError, prepare_for_metalogger
        node, log = self.node, self.log
        if node.master.pid():
            with log.step("master stop") as step:
                try:
                    clean = node.master.stop(self.settings.number("STOP_TIMEOUT"))
                except DaemonError as error:
                    raise HookError(str(error)) from None
                step.note = "clean" if clean else "killed: it saved no image"
            image = read_image(os.path.join(node.data_path, "metadata.mfs"))
            if clean and image.valid:
                self.mark.raise_to(image.version, image.metaid, here=True)
        if not node.metalogger.pid():
            self.ask_peers()  # e.g. after a reboot: this node's mark may be long past
            with log.step("metalogger start"):
                try:
                    archive = prepare_for_metalogger(node.data_path, self.archiver(),
                                                     self.mark.known(),
                                                     self.mark.read().version or None)
                    node.metalogger.start(self.settings.number("STOP_TIMEOUT"))
                except (RestoreError, DaemonError) as error:
                    raise HookError("metalogger: %s" % error) from None
            if archive:
                log.info("before the metalogger starts, files set aside into %s" % archive)
        self.remove_address()


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
    ucarp = ucarp_parent()
    hooks.add_address()
    hooks.log.info("%s added to %s; becoming the master" % (hooks.vip, hooks.iface))
    if os.fork():
        os.wait()
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    why, code = work(hooks)
    if why and ucarp:
        hooks.log.info("asking ucarp (pid %d) to give %s up" % (ucarp, hooks.vip))
        os.kill(ucarp, signal.SIGUSR2)
    os._exit(code)


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
