"""Agent meta-data: one declaration of parameters and actions, rendered with lxml.

Two profiles, chosen on purpose:
  * PROFILE_DTD (default): validates against resource-agents' ra-api-1.dtd, which
    ocf-tester uses. It has a DOCTYPE, <version>1.0</version>, no `reloadable`, no
    `reload-agent`, and select parameters are rendered as strings with the options
    listed in the long description.
  * PROFILE_1_1: OCF 1.1 meta-data (select/option, reloadable, reload-agent allowed),
    which Pacemaker 2.1 reads but the old DTD rejects.
lxml is imported only here, so monitor never pays for it.
"""
from __future__ import annotations

from .params import SELECT, STRING, Parameter

PROFILE_DTD = "ra-api-1.dtd"
PROFILE_1_1 = "1.1"


class Action:
    """One <action> line of meta-data (timeouts and intervals in seconds)."""

    __slots__ = ("name", "timeout", "interval", "depth", "role", "start_delay")

    def __init__(self, name: str, timeout: int, interval: int | None = None,
                 depth: int | None = None, role: str | None = None,
                 start_delay: int | None = None) -> None:
        self.name = name
        self.timeout = timeout
        self.interval = interval
        self.depth = depth
        self.role = role
        self.start_delay = start_delay


class AgentInfo:
    """What an agent declares about itself."""

    def __init__(self, name: str, version: str, shortdesc: str, longdesc: str,
                 parameters: list[Parameter], actions: list[Action],
                 profile: str = PROFILE_DTD, log_tag: str = "",
                 manual: list[tuple[str, str]] | None = None) -> None:
        self.name = name
        self.manual = manual or []  # further sections of its manual page: (title, roff)
        self.log_tag = log_tag or name  # its lines' tag in syslog and the log files
        self.version = version
        self.shortdesc = shortdesc
        self.longdesc = longdesc
        self.parameters = parameters
        self.actions = actions
        self.profile = profile

    @property
    def action_names(self) -> list[str]:
        seen: list[str] = []
        for action in self.actions:
            if action.name not in seen:
                seen.append(action.name)
        return seen

    def to_xml(self) -> str:
        return render(self)


def _ensure_site_packages() -> None:
    # Agents run as `python3 -IS` for a fast start; Debian's python3-lxml lives in
    # dist-packages, which only the site module puts on sys.path.
    import sys
    if "site" not in sys.modules:
        import site
        site.main()


def _seconds(value: int) -> str:
    return "%ds" % value


def _description(parent, tag: str, text: str, lang: bool = True):
    from lxml import etree
    element = etree.SubElement(parent, tag)
    if lang:
        element.set("lang", "en")
    element.text = text
    return element


def _parameter_element(parent, parameter: Parameter, profile: str) -> None:
    from lxml import etree
    element = etree.SubElement(parent, "parameter", name=parameter.name)
    element.set("required", "1" if parameter.required else "0")
    element.set("unique", "1" if parameter.unique else "0")
    if profile == PROFILE_1_1 and parameter.reloadable:
        element.set("reloadable", "1")
    longdesc = parameter.longdesc
    if parameter.type == SELECT and profile == PROFILE_DTD:
        longdesc += "\nAllowed values: %s." % ", ".join(parameter.options)
    _description(element, "longdesc", longdesc)
    _description(element, "shortdesc", parameter.shortdesc)
    content_type = parameter.type
    if content_type == SELECT and profile == PROFILE_DTD:
        content_type = STRING
    content = etree.SubElement(element, "content", type=content_type)
    default = parameter.default_text()
    if default is not None:
        content.set("default", default)
    if content_type == SELECT:
        for option in parameter.options:
            etree.SubElement(content, "option", value=option)


def render(info: AgentInfo) -> str:
    """The meta-data document as text, DOCTYPE included for the DTD profile."""
    _ensure_site_packages()
    from lxml import etree
    root = etree.Element("resource-agent", name=info.name, version=info.version)
    version = etree.SubElement(root, "version")
    version.text = "1.1" if info.profile == PROFILE_1_1 else "1.0"
    _description(root, "longdesc", info.longdesc)
    _description(root, "shortdesc", info.shortdesc)
    parameters = etree.SubElement(root, "parameters")
    for parameter in info.parameters:
        _parameter_element(parameters, parameter, info.profile)
    actions = etree.SubElement(root, "actions")
    for action in info.actions:
        if action.name == "reload-agent" and info.profile == PROFILE_DTD:
            continue
        element = etree.SubElement(actions, "action", name=action.name,
                                   timeout=_seconds(action.timeout))
        if action.interval is not None:
            element.set("interval", _seconds(action.interval))
        if action.depth is not None:
            element.set("depth", str(action.depth))
        if action.role:
            element.set("role", action.role)
        if action.start_delay is not None:
            element.set("start-delay", _seconds(action.start_delay))
    doctype = '<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">' if info.profile == PROFILE_DTD else None
    body = etree.tostring(root, pretty_print=True, encoding="unicode", doctype=doctype)
    return '<?xml version="1.0"?>\n' + body
