"""A manual page (roff, section 7) for an agent, made from its meta-data, named as
resource-agents names theirs: ocf_PROVIDER_NAME.7."""
from __future__ import annotations

from .metadata import AgentInfo


# What an agent's exit codes mean to Pacemaker (the OCF resource agent API).
EXIT_STATUS = [
    (0, "OCF_SUCCESS: the action succeeded; for monitor, running (Unpromoted)."),
    (1, "OCF_ERR_GENERIC: the action failed (the exit reason says why); Pacemaker recovers."),
    (2, "OCF_ERR_ARGS: wrong parameters for this node."),
    (3, "OCF_ERR_UNIMPLEMENTED: an action the agent does not have."),
    (5, "OCF_ERR_INSTALLED: software is missing on this node; Pacemaker avoids the node."),
    (6, "OCF_ERR_CONFIGURED: the configuration is wrong; Pacemaker stops the resource "
        "everywhere."),
    (7, "OCF_NOT_RUNNING: monitor found it stopped."),
    (8, "OCF_RUNNING_PROMOTED: monitor found it running in the Promoted role."),
    (9, "OCF_FAILED_PROMOTED: monitor found it failed in the Promoted role."),
]


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, and lines that would start a request."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def render(info: AgentInfo, provider: str, date: str) -> str:
    title = "ocf_%s_%s" % (provider, info.name)
    out = ['.TH %s 7 "%s" "%s %s" "OCF resource agents"' % (title.upper(), date, info.name,
                                                             info.version),
           ".SH NAME", "%s \\- %s" % (title, _roff(info.shortdesc)),
           ".SH SYNOPSIS", "\\fBocf:%s:%s\\fR [\\fIparameter\\fR=\\fIvalue\\fR ...]"
           % (provider, info.name),
           ".SH DESCRIPTION", ".nf", _roff(info.longdesc.strip()), ".fi",
           ".SH PARAMETERS"]
    for parameter in info.parameters:
        text = parameter.default_text()
        default = ", default %s" % text if text else ""
        out += [".TP", "\\fB%s\\fR (%s%s%s)" % (parameter.name, parameter.type, default,
                                               ", required" if parameter.required else ""),
                _roff(parameter.longdesc.strip())]
    out.append(".SH ACTIONS")
    for action in info.actions:
        details = ["timeout %ds" % action.timeout]
        if action.interval:
            details.append("interval %ds" % action.interval)
        if action.role:
            details.append("role %s" % action.role)
        out += [".TP", "\\fB%s\\fR" % action.name, ", ".join(details)]
    for title, roff in info.manual:
        out += [".SH %s" % title, roff.rstrip("\n")]
    out.append(".SH EXIT STATUS")
    for code, meaning in EXIT_STATUS:
        out += [".TP", "\\fB%d\\fR" % code, meaning]
    out += [".SH SEE ALSO", "\\fBmfsha\\fR(8), \\fBcrm\\fR(8), \\fBpcs\\fR(8), "
            "\\fBocf-tester\\fR(8)", ""]
    return "\n".join(out)


def page_date(environ) -> str:
    """The page's date: SOURCE_DATE_EPOCH's month when set (reproducible builds, as
    dpkg-buildpackage sets it from debian/changelog), else this month; in UTC."""
    import time
    epoch = environ.get("SOURCE_DATE_EPOCH", "")
    return time.strftime("%Y-%m", time.gmtime(int(epoch) if epoch.isdigit() else None))


def main(argv: list[str]) -> int:
    """python3 -m ocf.manpage MODULE:ATTRIBUTE PROVIDER  (prints the page)"""
    import importlib
    import os
    if len(argv) != 3 or ":" not in argv[1]:
        print(main.__doc__)
        return 2
    module, _, attribute = argv[1].partition(":")
    info = getattr(importlib.import_module(module), attribute)
    print(render(info, argv[2], page_date(os.environ)))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv))
