"""Clients held off after a promote until the chunkservers are back (client_hold).

Promote starts mfsmaster closed to clients (moosefs.clienthold) and leaves a helper
process behind that lets them in once every chunkserver the master knows has connected
again. The wait runs outside any action: a first Promoted monitor that waited for the
chunkservers kept Pacemaker from starting the transition it had to recompute after the
promote's own cluster records, and so held back the virtual IP that the chunkservers
need (bench: VIP 13-14 s after the fault, clients let in at the 10-s bound).
The helper's stderr goes nowhere, so it leaves its outcome in the local state and the
next Promoted monitor logs it; that monitor also opens the port itself when the helper
is gone or overdue.
"""
from __future__ import annotations

import os
import time

from ocf import codes
from ocf.codes import OCFError
from ocf.dispatch import Context
from ocf.state import StateFile

# When no chunkserver comes back at all, clients are let in this long after mfsmaster
# started (the virtual IP may come 2-3 s after promote, a chunkserver up to 2 s later).
WITHOUT_CHUNKSERVERS_SECONDS = 10
# The monitor opens the port itself when the helper has not this long after that.
HELPER_GRACE_SECONDS = 5


class Hold:
    """The hold of one instance: its config copy and its keys in the local state."""

    def __init__(self, ctx: Context, site, state: StateFile, cfg_copy: str) -> None:
        self.ctx = ctx
        self.site = site
        self.state = state
        self.cfg_copy = cfg_copy

    def prepare(self, major: int) -> int:
        """Write the closed config the master starts from; returns its loopback client
        port, 0 when clients are not held off."""
        from moosefs.chunkservers import RECORD_BYTES
        from moosefs.clienthold import unreadable_reason, write_closed
        if self.ctx.params.integer("client_hold") <= 0:
            return 0
        reason = unreadable_reason(self.site.master_cfg) if major in RECORD_BYTES else \
            "MooseFS %d's chunkserver list is not known to this agent" % major
        if reason:
            self.ctx.log.warning("clients are let in at once after this promote: %s" % reason)
            return 0
        port = write_closed(self.site.master_cfg, self.cfg_copy)
        self.state.update(hold_port=str(port), hold_major=str(major),
                          hold_since="%.3f" % time.time(), hold_note="", hold_helper="")
        return port

    def start_helper(self, master_pid: int) -> None:
        """Detach a process that lets clients in (double fork: the action's caller
        neither waits for it nor reads its output)."""
        child = os.fork()
        if child:
            os.waitpid(child, 0)
            return
        try:
            os.setsid()
            _detach_stdio()
            helper = os.fork()
            if helper == 0:
                self.state.update(hold_note=self._outcome(master_pid, wait=True))
            else:  # for the monitor, which lets clients in at once when the helper died
                self.state.update(hold_helper=str(helper))
        finally:
            os._exit(0)

    def upkeep(self, master_pid: int, held: dict[str, str]) -> None:
        """The Promoted monitor's part, given the local state it read: log the helper's
        outcome once, and let clients in when the helper is gone or overdue."""
        note = held.get("hold_note")
        if note:
            bad = note.startswith("failed") or " not back" in note
            (self.ctx.log.warning if bad else self.ctx.log.info)("client hold: %s" % note)
            self.state.update(hold_note="")
        if held.get("hold_port") and self._helper_failed(held):
            note = self._outcome(master_pid, wait=False)
            if note.startswith("failed"):
                raise OCFError(codes.ERR_GENERIC, "clients are still held off: %s" % note)
            self.ctx.log.warning("client hold: the promote's helper did not let clients in; "
                                 "the monitor did: %s" % note)

    @staticmethod
    def _helper_failed(held: dict[str, str]) -> bool:
        """Is the helper gone, or overdue (a helper PID reused by another process still
        counts as alive: then only the time bound applies)?"""
        from moosefs.daemons import process_alive
        helper = int(held.get("hold_helper") or 0)
        overdue = float(held.get("hold_since") or 0) + WITHOUT_CHUNKSERVERS_SECONDS + \
            HELPER_GRACE_SECONDS
        return time.time() > overdue or helper > 0 and not process_alive(helper)

    def _outcome(self, master_pid: int, wait: bool) -> str:
        try:
            return self._let_in(master_pid, wait)
        except (OSError, ValueError) as error:
            return "failed: %s" % error

    def _let_in(self, master_pid: int, wait: bool) -> str:
        """Wait (when `wait`) for the chunkservers, then open the client port; returns
        what happened, in words."""
        from moosefs.chunkservers import ListError, wait_connected
        from moosefs.clienthold import HOLD_HOST, open_to_clients
        from moosefs.daemons import wait_serving
        from procrun import Deadline
        held = self.state.read()
        port = held.get("hold_port")
        if not port:
            return "clients already let in"
        since = float(held.get("hold_since") or 0)
        try:
            late = [s.address for s in wait_connected(
                HOLD_HOST, int(port), int(held.get("hold_major") or 0),
                self.ctx.params.integer("client_hold") if wait else 0,
                since + WITHOUT_CHUNKSERVERS_SECONDS if wait else 0)]
            found = "%s not back" % ", ".join(late) if late else "every chunkserver back"
        except ListError as error:
            found = "chunkservers not known (%s)" % error
        # demoted, stopped or promoted again meanwhile: not this helper's master any more
        if self.state.read().get("hold_port") != port or self.site.master.pid() != master_pid:
            return "clients not let in: mfsmaster %d is gone" % master_pid
        open_to_clients(self.site.master_cfg, self.cfg_copy, master_pid)
        host, real_port = self.site.client_address()
        if not wait_serving(host, real_port, Deadline(5, reserve=0)):
            return "failed: mfsmaster did not move its client listener to port %d on " \
                   "reload; see its system log" % real_port
        self.state.update(hold_port="")
        return "%s; clients let in %.3f s after mfsmaster started" % (found, time.time() - since)


def _detach_stdio() -> None:
    """Nothing of the action's pipes stays open in the helper."""
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(null, descriptor)
    os.closerange(3, 1 << 16)
