"""What Pacemaker (or ocf-tester, or an administrator) passes to an agent."""
from __future__ import annotations

import os

TRUE_WORDS = frozenset(("yes", "true", "1", "on", "y", "ja", "enabled"))
FALSE_WORDS = frozenset(("no", "false", "0", "off", "n", "nein", "disabled", ""))


def parse_bool(text: str) -> bool:
    """Parse the boolean spellings Pacemaker and the shell ocf-shellfuncs accept."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("not a boolean: %r" % text)


class Environment:
    """Read-only view of the OCF environment; `environ` is injectable for tests."""

    def __init__(self, argv: list[str] | None = None, environ: dict[str, str] | None = None) -> None:
        self.argv = list(argv) if argv is not None else []
        self.environ = environ if environ is not None else os.environ

    # -- generic access ---------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        return self.environ.get(name, default)

    def reskey(self, name: str) -> str | None:
        """An instance parameter or meta attribute (`OCF_RESKEY_<name>`)."""
        return self.environ.get("OCF_RESKEY_" + name)

    def meta(self, name: str) -> str | None:
        """A meta attribute, e.g. meta('timeout') reads OCF_RESKEY_CRM_meta_timeout."""
        return self.reskey("CRM_meta_" + name)

    def _meta_ms_as_s(self, name: str) -> float | None:
        text = self.meta(name)
        if text is None or text.strip() == "":
            return None
        try:
            return int(text) / 1000.0
        except ValueError:
            return None

    def _meta_int(self, names: tuple[str, ...], default: int) -> int:
        for name in names:
            text = self.meta(name)
            if text is not None and text.strip() != "":
                try:
                    return int(text)
                except ValueError:
                    pass
        return default

    def _meta_bool(self, name: str, default: bool = False) -> bool:
        text = self.meta(name)
        if text is None:
            return default
        try:
            return parse_bool(text)
        except ValueError:
            return default

    # -- action -------------------------------------------------------------
    @property
    def action(self) -> str:
        """`__OCF_ACTION` (set by ocf-shellfuncs wrappers) wins over argv[1]."""
        explicit = self.environ.get("__OCF_ACTION")
        if explicit:
            return explicit
        return self.argv[1] if len(self.argv) > 1 else ""

    @property
    def instance(self) -> str:
        return self.environ.get("OCF_RESOURCE_INSTANCE", "")

    @property
    def resource_name(self) -> str:
        """The clone's primitive name without the `:N` instance suffix."""
        return self.instance.split(":", 1)[0]

    @property
    def timeout(self) -> float | None:
        """The action's timeout in seconds (`CRM_meta_timeout` is in milliseconds)."""
        return self._meta_ms_as_s("timeout")

    @property
    def interval(self) -> float:
        return self._meta_ms_as_s("interval") or 0.0

    @property
    def is_probe(self) -> bool:
        return self.action == "monitor" and self.interval == 0

    @property
    def check_level(self) -> int:
        text = self.environ.get("OCF_CHECK_LEVEL", "0").strip() or "0"
        try:
            return int(text)
        except ValueError:
            return 0

    @property
    def node_name(self) -> str:
        """The local node's cluster name, as Pacemaker passes it; uname as a fallback."""
        for name in ("on_node", "on-node"):
            value = self.meta(name)
            if value:
                return value
        return os.uname().nodename

    @property
    def feature_set(self) -> tuple[int, ...]:
        text = self.reskey("crm_feature_set") or ""
        parts = []
        for part in text.split("."):
            if not part.isdigit():
                break
            parts.append(int(part))
        return tuple(parts)

    # -- clone meta attributes ----------------------------------------------
    @property
    def is_clone(self) -> bool:
        return self.meta("clone_max") is not None

    @property
    def promotable(self) -> bool:
        # Pacemaker before 2.0 set no 'promotable' for ms resources, only master_max.
        return self._meta_bool("promotable") or self.meta("master_max") is not None

    @property
    def notify_enabled(self) -> bool:
        return self._meta_bool("notify")

    @property
    def promoted_max(self) -> int:
        return self._meta_int(("promoted_max", "master_max"), 1)

    @property
    def promoted_node_max(self) -> int:
        return self._meta_int(("promoted_node_max", "master_node_max"), 1)

    @property
    def clone_max(self) -> int:
        return self._meta_int(("clone_max",), 0)

    @property
    def clone_node_max(self) -> int:
        return self._meta_int(("clone_node_max",), 1)
