"""Action dispatch: from argv and the environment to a handler and an exit code."""
from __future__ import annotations

import os
import sys

from .codes import (ERR_CONFIGURED, ERR_GENERIC, ERR_UNIMPLEMENTED, SUCCESS, OCFError,
                    name_of)
from .env import Environment
from .log import Logger
from .params import Parameters
from .proc import STARTED_AT, Deadline

# Actions that must run without a valid configuration: reporting and cleaning up
# never fail because a parameter is missing.
_NO_CONFIG_CHECK = frozenset(("meta-data", "usage", "help", "methods", "stop"))


class Context:
    """Everything a handler needs, built once per agent invocation."""

    def __init__(self, env: Environment, params: Parameters, log: Logger,
                 deadline: Deadline) -> None:
        self.env = env
        self.params = params
        self.log = log
        self.deadline = deadline
        self._cluster = None

    @property
    def cluster(self):
        if self._cluster is None:
            from .attributes import Cluster
            self._cluster = Cluster(self.env, self.log, self.deadline)
        return self._cluster

    @property
    def notification(self):
        from .notify import Notification
        return Notification(self.env)


def usage(agent_name: str, actions: list[str]) -> str:
    return "usage: %s {%s}" % (agent_name, "|".join(actions))


def run(info, handlers: dict, argv: list[str] | None = None,
        environ: dict[str, str] | None = None, stdout=None, stderr=None) -> int:
    """Run the action named by the environment and return its OCF exit code.

    `info` is an ocf.metadata.AgentInfo; `handlers` maps action names to callables
    taking a Context and returning an exit code (None counts as SUCCESS).
    """
    argv = sys.argv if argv is None else argv
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    env = Environment(argv, environ)
    action = env.action
    log = Logger(info.log_tag, env.instance, env.environ, stderr)
    known = ["meta-data", "usage", "methods"] + [a for a in info.action_names if a in handlers]
    if action in ("meta-data",):
        stdout.write(info.to_xml())
        return SUCCESS
    if action in ("usage", "help", "-h", "--help"):
        stdout.write(usage(info.name, known) + "\n")
        return SUCCESS
    if action == "methods":
        stdout.write("\n".join(known) + "\n")
        return SUCCESS
    if action not in handlers:
        stderr.write(usage(info.name, known) + "\n")
        log.exit_reason("action %r is not implemented by %s" % (action, info.name)
                        if action else "no action given")
        return ERR_UNIMPLEMENTED
    params = Parameters(info.parameters, env)
    # Pacemaker counts the timeout from when it started this process.
    ctx = Context(env, params, log, Deadline(env.timeout or None, start=STARTED_AT))
    try:
        if action not in _NO_CONFIG_CHECK and not env.is_probe:
            params.check_all()
        code = handlers[action](ctx)
        code = SUCCESS if code is None else code
    except OCFError as error:
        log.exit_reason(error.reason)
        code = error.code
    except Exception as error:  # an agent bug must still end as an OCF answer
        import traceback
        # One line in the cluster's log; the whole traceback with HA_debug=1.
        for line in traceback.format_exc().splitlines():
            log.debug(line)
        where = traceback.extract_tb(error.__traceback__)[-1]
        log.exit_reason("internal error in %s %s: %s: %s (at %s:%d)"
                        % (info.name, action, type(error).__name__, error,
                           os.path.basename(where.filename), where.lineno))
        code = ERR_GENERIC
    log.debug("%s returned %s" % (action, name_of(code)))
    return code


def main(info, handlers: dict) -> None:
    sys.exit(run(info, handlers))


__all__ = ["Context", "run", "main", "usage", "ERR_CONFIGURED"]
