"""OCF resource agent API 1.1 return codes, and the exception that carries one.

Plain integer constants (no enum): this module is imported on every monitor.
"""
from __future__ import annotations

SUCCESS = 0
ERR_GENERIC = 1
ERR_ARGS = 2
ERR_UNIMPLEMENTED = 3
ERR_PERM = 4
ERR_INSTALLED = 5
ERR_CONFIGURED = 6
NOT_RUNNING = 7
RUNNING_PROMOTED = 8
FAILED_PROMOTED = 9
DEGRADED = 190
DEGRADED_PROMOTED = 191

# Legacy names from before Pacemaker 2.1.
RUNNING_MASTER = RUNNING_PROMOTED
FAILED_MASTER = FAILED_PROMOTED

NAMES = {
    SUCCESS: "OCF_SUCCESS",
    ERR_GENERIC: "OCF_ERR_GENERIC",
    ERR_ARGS: "OCF_ERR_ARGS",
    ERR_UNIMPLEMENTED: "OCF_ERR_UNIMPLEMENTED",
    ERR_PERM: "OCF_ERR_PERM",
    ERR_INSTALLED: "OCF_ERR_INSTALLED",
    ERR_CONFIGURED: "OCF_ERR_CONFIGURED",
    NOT_RUNNING: "OCF_NOT_RUNNING",
    RUNNING_PROMOTED: "OCF_RUNNING_PROMOTED",
    FAILED_PROMOTED: "OCF_FAILED_PROMOTED",
    DEGRADED: "OCF_DEGRADED",
    DEGRADED_PROMOTED: "OCF_DEGRADED_PROMOTED",
}


def name_of(code: int) -> str:
    return NAMES.get(code, "unknown(%d)" % code)


class OCFError(Exception):
    """Raised by an action handler to end the action with `code` and an exit reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class ClusterUnreachable(Exception):
    """A cluster runs (or called the agent) but its tool could not answer: nothing is
    known, which is not the same as "not set" (ocf.attributes)."""

# CRM_EX_NOSUCH: Pacemaker's tools exit with it for an attribute or option that is not set.
NO_SUCH = 105
