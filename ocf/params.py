"""Instance parameters: one declaration gives the meta-data and the typed values."""
from __future__ import annotations

from .codes import ERR_CONFIGURED, OCFError
from .env import Environment, parse_bool

STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
SELECT = "select"
_TYPES = (STRING, INTEGER, BOOLEAN, SELECT)


class Parameter:
    """One instance parameter.

    `default` is given as the typed value (int for integer, bool for boolean); it is
    written into the meta-data in OCF spelling and used when `OCF_RESKEY_<name>` is unset.
    """

    __slots__ = ("name", "shortdesc", "longdesc", "type", "default", "required",
                 "unique", "options", "reloadable", "advanced")

    def __init__(self, name: str, shortdesc: str, longdesc: str = "", type: str = STRING,
                 default: object = None, required: bool = False, unique: bool = False,
                 options: tuple[str, ...] = (), reloadable: bool = False,
                 advanced: bool = False) -> None:
        if type not in _TYPES:
            raise ValueError("unknown parameter type %r" % type)
        if type == SELECT and not options:
            raise ValueError("select parameter %s needs options" % name)
        self.name = name
        self.shortdesc = shortdesc
        self.longdesc = longdesc or shortdesc
        self.type = type
        self.default = default
        self.required = required
        self.unique = unique
        self.options = tuple(options)
        self.reloadable = reloadable
        self.advanced = advanced

    def default_text(self) -> str | None:
        """The default as it appears in meta-data."""
        if self.default is None:
            return None
        if self.type == BOOLEAN:
            return "true" if self.default else "false"
        return str(self.default)

    def convert(self, text: str) -> object:
        """Turn the environment's text into the declared type, or raise OCFError."""
        try:
            if self.type == INTEGER:
                return int(text.strip())
            if self.type == BOOLEAN:
                return parse_bool(text)
        except ValueError:
            raise OCFError(ERR_CONFIGURED, "parameter %s=%r is not a valid %s"
                           % (self.name, text, self.type)) from None
        if self.type == SELECT and text not in self.options:
            raise OCFError(ERR_CONFIGURED, "parameter %s=%r must be one of: %s"
                           % (self.name, text, ", ".join(self.options)))
        return text


class Parameters:
    """Typed instance parameter values, read lazily from the environment."""

    def __init__(self, declarations: list[Parameter], env: Environment) -> None:
        self._declared = {p.name: p for p in declarations}
        self._env = env
        self._cache: dict[str, object] = {}

    def is_set(self, name: str) -> bool:
        return self._env.reskey(name) is not None

    def __getitem__(self, name: str) -> object:
        if name not in self._cache:
            declaration = self._declared[name]
            text = self._env.reskey(name)
            if text is None:
                value = declaration.default
            else:
                value = declaration.convert(text)
            self._cache[name] = value
        return self._cache[name]

    def string(self, name: str) -> str:
        value = self[name]
        return "" if value is None else str(value)

    def integer(self, name: str) -> int:
        value = self[name]
        return int(value) if value is not None else 0

    def boolean(self, name: str) -> bool:
        return bool(self[name])

    def missing_required(self) -> list[str]:
        return [p.name for p in self._declared.values()
                if p.required and not (self._env.reskey(p.name) or "").strip()]

    def check_all(self) -> None:
        """Convert every set parameter once, so a bad value surfaces as ERR_CONFIGURED."""
        missing = self.missing_required()
        if missing:
            raise OCFError(ERR_CONFIGURED, "required parameter(s) not set: %s" % ", ".join(missing))
        for name in self._declared:
            self[name]
