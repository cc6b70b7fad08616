"""Logging and exit reasons, following the cluster's conventions.

No `logging` import: it costs more than the rest of an agent's monitor. Destinations:
  * syslog when HA_LOGFACILITY or PCMK_logfacility names a facility (not "none");
  * a log file: HA_LOGFILE, else PCMK_logfile (not "none"); HA_DEBUGLOG for debug lines too;
  * stderr when neither syslog nor a log file is configured (pacemaker-execd writes an
    agent's stderr into the cluster's log, as resource-agents' shell agents rely on),
    and when stderr is a terminal (an administrator running the agent by hand).
Debug lines are written only when HA_debug is set to a non-zero value.
Every line carries the resource instance, as ocf-shellfuncs does.
"""
from __future__ import annotations

import os
import sys
import time

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_LEVEL_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}
_SYSLOG_FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
                      "uucp", "cron", "authpriv", "local0", "local1", "local2", "local3",
                      "local4", "local5", "local6", "local7")


class Logger:
    def __init__(self, tag: str, instance: str, environ: dict[str, str] | None = None,
                 stderr=None) -> None:
        self.environ = environ if environ is not None else os.environ
        self.tag = tag
        self.instance = instance
        self.stderr = stderr if stderr is not None else sys.stderr
        debug_text = self.environ.get("HA_debug", self.environ.get("HA_DEBUG", "0")).strip()
        self.debug_enabled = debug_text not in ("", "0", "no", "false", "off")
        self.facility = self._facility_name()
        self.logfile = self._logfile_name()
        self.debuglog = self.environ.get("HA_DEBUGLOG") or None
        self.steps_done: list[tuple[str, float]] = []  # (step, seconds) of this action
        try:
            to_terminal = self.stderr.isatty()
        except (AttributeError, ValueError):
            to_terminal = False
        # Without syslog or a file, stderr is the only way into the cluster's log.
        self.to_stderr = to_terminal or not (self.facility or self.logfile)

    def _logfile_name(self) -> str | None:
        for name in ("HA_LOGFILE", "PCMK_logfile"):
            value = self.environ.get(name, "").strip()
            if value and value.lower() not in ("none", "/dev/null"):
                return value
        return None

    def _facility_name(self) -> str | None:
        for name in ("HA_LOGFACILITY", "PCMK_logfacility"):
            value = self.environ.get(name, "").strip().lower()
            if value and value != "none" and value in _SYSLOG_FACILITIES:
                return value
        return None

    def format(self, level: int, message: str) -> str:
        who = "%s(%s)" % (self.tag, self.instance) if self.instance else self.tag
        return "%s %s: %s" % (who, _LEVEL_NAMES[level], message)

    def log(self, level: int, message: str, to_stderr: bool = True) -> None:
        if level == DEBUG and not self.debug_enabled:
            return
        line = self.format(level, message)
        if self.facility:
            self._to_syslog(level, line)
        stamp = time.strftime("%b %d %H:%M:%S")
        if self.logfile and level > DEBUG:
            self._append(self.logfile, "%s %s" % (stamp, line))
        if self.debuglog:
            self._append(self.debuglog, "%s %s" % (stamp, line))
        if to_stderr and self.to_stderr:
            self.stderr.write(line + "\n")
            self.stderr.flush()

    def _to_syslog(self, level: int, line: str) -> None:
        import syslog
        priority = {DEBUG: syslog.LOG_DEBUG, INFO: syslog.LOG_INFO,
                    WARNING: syslog.LOG_WARNING, ERROR: syslog.LOG_ERR}[level]
        facility = getattr(syslog, "LOG_" + self.facility.upper(), syslog.LOG_DAEMON)
        syslog.openlog(self.tag, syslog.LOG_PID, facility)
        syslog.syslog(priority, line)

    @staticmethod
    def _append(path: str, line: str) -> None:
        try:
            with open(path, "a") as stream:
                stream.write(line + "\n")
        except OSError:
            pass  # logging must never fail an action (meta-data runs as nobody)

    def debug(self, message: str) -> None:
        self.log(DEBUG, message)

    def info(self, message: str) -> None:
        self.log(INFO, message)

    def warning(self, message: str) -> None:
        self.log(WARNING, message)

    def error(self, message: str) -> None:
        self.log(ERROR, message)

    def exit_reason(self, message: str) -> None:
        """Tell Pacemaker why the action failed (one line, shown by crm_mon), and log it."""
        prefix = self.environ.get("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
        one_line = " ".join(message.split())
        self.stderr.write("%s%s\n" % (prefix, one_line))
        self.stderr.flush()
        # The prefixed line is already on stderr; send the rest to syslog and the files.
        self.log(ERROR, one_line, to_stderr=False)

    def step(self, what: str) -> "Step":
        """`with log.step("metalogger stop"):` logs the step with its duration."""
        return Step(self, what)


class Step:
    """One timed step of an action; `note` may be filled in while it runs."""

    def __init__(self, log: Logger, what: str) -> None:
        self.log = log
        self.what = what
        self.note = ""
        self.started = 0.0
        self.seconds = 0.0

    def __enter__(self) -> "Step":
        self.started = time.monotonic()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.seconds = time.monotonic() - self.started
        self.log.steps_done.append((self.what, self.seconds))
        detail = (": " + self.note) if self.note else ""
        outcome = "" if kind is None else " failed"
        self.log.info("step %s%s%s (%.3f s)" % (self.what, outcome, detail, self.seconds))
