"""Clients held off after a promote until the chunkservers are back.

Promote starts mfsmaster closed to clients (moosefs.clienthold) and leaves a helper
process behind that lets them in once every chunkserver the master knows has connected
again. The wait runs outside the promote, because the virtual IP, which the
chunkservers need to come back, is moved only after the promote returns. The helper's
output goes nowhere, so it leaves its outcome in the local state; the front-end's next
health check logs it (`upkeep`) and opens the port itself when the helper is gone or
overdue.
"""
from __future__ import annotations

import time

from .detach import detach

# When no chunkserver comes back at all, clients are let in this long after mfsmaster
# started (the virtual IP may come 2-3 s after promote, a chunkserver up to 2 s later).
WITHOUT_CHUNKSERVERS_SECONDS = 10
# The monitor opens the port itself when the helper has not this long after that.
HELPER_GRACE_SECONDS = 5


# How a hold ended, as labels for metrics: each outcome is told with its kind.
LET_IN = "let_in"
CHUNKSERVERS_MISSING = "chunkservers_missing"
MASTER_GONE = "master_gone"
FAILED = "failed"
MONITOR_LET_IN = "monitor_let_in"  # the helper did not, the monitor did
OUTCOME_KINDS = (LET_IN, CHUNKSERVERS_MISSING, MASTER_GONE, FAILED, MONITOR_LET_IN)


class HoldFailed(Exception):
    """Clients are still held off and could not be let in (one line)."""


class Hold:
    """The hold of one master: its config copy, how long clients may wait for the
    chunkservers (`seconds`; 0: not held) and its keys in the local `state` (read()
    and update(**keys) of a dict: the front-end's state file)."""

    def __init__(self, node, state, cfg_copy: str, seconds: int, log) -> None:
        self.node = node
        self.state = state
        self.cfg_copy = cfg_copy
        self.seconds = seconds
        self.log = log

    def prepare(self, major: int) -> int:
        """Write the closed config the master starts from; returns its loopback client
        port, 0 when clients are not held off."""
        from moosefs.chunkservers import RECORD_BYTES
        from moosefs.clienthold import unreadable_reason, write_closed
        if self.seconds <= 0:
            return 0
        reason = unreadable_reason(self.node.master_cfg) if major in RECORD_BYTES else \
            "MooseFS %d's chunkserver list is not known to this agent" % major
        if reason:
            self.log.warning("clients are let in at once after this promote: %s" % reason)
            return 0
        port = write_closed(self.node.master_cfg, self.cfg_copy)
        self.state.update(hold_port=str(port), hold_major=str(major),
                          hold_since="%.3f" % time.time(), hold_note="", hold_outcome="",
                          hold_helper="")
        return port

    def start_helper(self, master_pid: int) -> None:
        """Leave behind the process that lets clients in; its pid goes into the state,
        for `upkeep`, which lets clients in at once when the helper died."""
        def let_in() -> int:
            kind, note = self._outcome(master_pid, wait=True)
            self.state.update(hold_note=note, hold_outcome=kind)
            return 0
        detach(let_in, on_forked=lambda pid: self.state.update(hold_helper=str(pid)))

    def upkeep(self, master_pid: int, held: dict[str, str]) -> str:
        """The Promoted monitor's part, given the local state it read: log the helper's
        outcome once, and let clients in when the helper is gone or overdue. Returns
        the kind (OUTCOME_KINDS) of the outcome it reported, "" when none."""
        note = held.get("hold_note")
        reported = ""
        if note:
            reported = held.get("hold_outcome", "")
            (self.log.info if reported == LET_IN else self.log.warning)("client hold: %s" % note)
            self.state.update(hold_note="", hold_outcome="")
        if held.get("hold_port") and self._helper_failed(held):
            kind, note = self._outcome(master_pid, wait=False)
            if kind == FAILED:
                raise HoldFailed("clients are still held off: %s" % note)
            self.log.warning("client hold: the promote's helper did not let clients in; "
                             "the monitor did: %s" % note)
            reported = MONITOR_LET_IN
        return reported

    @staticmethod
    def _helper_failed(held: dict[str, str]) -> bool:
        """Is the helper gone, or overdue (a helper PID reused by another process still
        counts as alive: then only the time bound applies)?"""
        from moosefs.daemons import process_alive
        helper = int(held.get("hold_helper") or 0)
        overdue = float(held.get("hold_since") or 0) + WITHOUT_CHUNKSERVERS_SECONDS + \
            HELPER_GRACE_SECONDS
        return time.time() > overdue or helper > 0 and not process_alive(helper)

    def _outcome(self, master_pid: int, wait: bool) -> tuple[str, str]:
        try:
            return self._let_in(master_pid, wait)
        except (OSError, ValueError) as error:
            return FAILED, "failed: %s" % error

    def _let_in(self, master_pid: int, wait: bool) -> tuple[str, str]:
        """Wait (when `wait`) for the chunkservers, then open the client port; returns
        what happened: its kind (OUTCOME_KINDS) and its words."""
        from moosefs.chunkservers import ListError, wait_connected
        from moosefs.clienthold import HOLD_HOST, open_to_clients
        from moosefs.daemons import wait_serving
        from procrun import Deadline
        held = self.state.read()
        port = held.get("hold_port")
        if not port:
            return LET_IN, "clients already let in"
        since = float(held.get("hold_since") or 0)
        kind = CHUNKSERVERS_MISSING
        try:
            late = [s.address for s in wait_connected(
                HOLD_HOST, int(port), int(held.get("hold_major") or 0),
                self.seconds if wait else 0,
                since + WITHOUT_CHUNKSERVERS_SECONDS if wait else 0)]
            found = "%s not back" % ", ".join(late) if late else "every chunkserver back"
            kind = CHUNKSERVERS_MISSING if late else LET_IN
        except ListError as error:
            found = "chunkservers not known (%s)" % error
        # demoted, stopped or promoted again meanwhile: not this helper's master any more
        if self.state.read().get("hold_port") != port or self.node.master.pid() != master_pid:
            return MASTER_GONE, "clients not let in: mfsmaster %d is gone" % master_pid
        open_to_clients(self.node.master_cfg, self.cfg_copy, master_pid)
        host, real_port = self.node.client_address()
        if not wait_serving(host, real_port, Deadline(5, reserve=0)):
            return FAILED, "failed: mfsmaster did not move its client listener to port %d " \
                           "on reload; see its system log" % real_port
        self.state.update(hold_port="")
        return kind, "%s; clients let in %.3f s after mfsmaster started" % (
            found, time.time() - since)
