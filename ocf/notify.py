"""The notification environment of a clone with notify=true.

Pacemaker 2.1 passes notify_promoted_* / notify_unpromoted_* and, for older agents,
the same lists as notify_master_* / notify_slave_*; Pacemaker before 2.1 passes only
the legacy names. Both are read, the new names first.
"""
from __future__ import annotations

from .env import Environment

LISTS = ("start", "stop", "active", "inactive", "promote", "demote", "promoted",
         "unpromoted", "available", "all")
_LEGACY = {"promoted": "master", "unpromoted": "slave"}


def _words(text: str | None) -> list[str]:
    return text.split() if text else []


class Notification:
    def __init__(self, env: Environment) -> None:
        self.type = env.meta("notify_type") or ""          # "pre" or "post"
        self.operation = env.meta("notify_operation") or ""  # start/stop/promote/demote
        self.resources: dict[str, list[str]] = {}
        self.unames: dict[str, list[str]] = {}
        for name in LISTS:
            self.resources[name] = self._read(env, name, "resource")
            self.unames[name] = self._read(env, name, "uname")

    @staticmethod
    def _read(env: Environment, name: str, kind: str) -> list[str]:
        value = env.meta("notify_%s_%s" % (name, kind))
        if value is None and name in _LEGACY:
            value = env.meta("notify_%s_%s" % (_LEGACY[name], kind))
        return _words(value)

    @property
    def is_pre(self) -> bool:
        return self.type == "pre"

    @property
    def is_post(self) -> bool:
        return self.type == "post"

    @property
    def key(self) -> str:
        """e.g. 'pre-promote'; empty when the agent was called without notify variables."""
        return "%s-%s" % (self.type, self.operation) if self.type and self.operation else ""
