"""The three manual pages: every section an administrator looks for, every parameter with
its default, every mfsha command and option its parser has, every mfsha-ucarp setting,
examples that load into an empty CIB, and roff that renders without warnings."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from mfsha.info import CRM_EXAMPLE, INFO, PCS_EXAMPLE
from ocf.manpage import page_date, render
from tests.agentlib import ROOT, as_if_installed, install
from tests.packaging.tools import EMPTY_CIB

SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "FILES", "EXIT STATUS", "SEE ALSO")
MFSHA = os.path.join(ROOT, "man", "mfsha.8")
UCARP = os.path.join(ROOT, "man", "mfsha-ucarp.8")


def agent_page() -> str:
    return render(INFO, "mfsha", page_date({"SOURCE_DATE_EPOCH": "1796601600"}))


def text_of(roff: str) -> str:
    """The words of a page as a reader sees them: roff's escapes and fonts removed."""
    plain = roff.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    return re.sub(r"\\f[BIRP]", "", plain)


def sections(roff: str) -> list[str]:
    return [line[4:].strip('"') for line in roff.splitlines() if line.startswith(".SH ")]


def test_every_page_has_the_sections_an_administrator_looks_for():
    for name, roff in (("ocf_mfsha_mfsmaster.7", agent_page()), ("mfsha.8", open(MFSHA).read()),
                       ("mfsha-ucarp.8", open(UCARP).read())):
        missing = [s for s in SECTIONS if s not in sections(roff)]
        assert missing == [], "%s lacks %s" % (name, missing)


def test_the_agent_page_names_every_parameter_with_its_default_and_every_action():
    page = text_of(agent_page())
    for parameter in INFO.parameters:
        default = parameter.default_text()
        expected = "%s (%s%s" % (parameter.name, parameter.type,
                                 ", default %s" % default if default else "")
        assert expected in page, expected
    for action in INFO.action_names:
        assert "\n%s\n" % action in page, action
    assert "interval 300s" in page  # the depth-10 monitor's default
    assert CRM_EXAMPLE.splitlines()[0] in page and PCS_EXAMPLE.splitlines()[0] in page


def subcommands(parser) -> dict[str, object]:
    """{'status': parser, 'archives extract': parser, ...} of an argparse parser."""
    import argparse
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                prefix = parser.prog.split(" ", 1)[1] + " " if " " in parser.prog else ""
                found[prefix + name] = sub
                found.update(subcommands(sub))
    return found


def test_mfsha_page_names_every_command_and_option_of_its_parser():
    from mfsha.cli import parser
    page = text_of(open(MFSHA).read())
    synopsis = page.split(".SH SYNOPSIS")[1].split(".SH DESCRIPTION")[0]
    examples = page.split(".SH EXAMPLES")[1].split(".SH FILES")[0]
    top = parser()
    commands = subcommands(top)
    assert set(commands) == {"status", "why", "switchover", "inspect", "archives",
                             "archives extract", "metrics"}
    for command, sub in commands.items():
        words = " ".join(command.split())
        assert re.search(r"(?m)^\.B mfsha %s" % words, synopsis), command
        assert re.search(r"(?m)^mfsha (--\S+ \S+ )?%s" % words, examples), command
        for action in sub._actions:
            for option in action.option_strings:
                assert option in page, "%s %s" % (command, option)
    for action in top._actions:
        for option in action.option_strings:
            assert option in page, option


def test_mfsha_ucarp_page_names_every_command_and_setting():
    from ucarp.settings import DEFAULTS
    page = text_of(open(UCARP).read())
    for verb in ("up", "down", "serve", "status"):
        assert "\n.B mfsha-ucarp %s" % verb in page, verb
    for key in DEFAULTS:
        assert key in page, key


@pytest.mark.skipif(shutil.which("groff") is None, reason="needs groff")
def test_the_pages_render_without_warnings(tmp_path):
    agent = tmp_path / "ocf_mfsha_mfsmaster.7"
    agent.write_text(agent_page())
    for path in (str(agent), MFSHA, UCARP):
        # -ww: every warning; a long path that cannot be justified (break) is fine.
        done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-Wbreak", "-z", path],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stderr == "", done.stderr


@pytest.mark.skipif(shutil.which("crm") is None or shutil.which("pcs") is None,
                    reason="needs crmsh and pcs")
@pytest.mark.parametrize("dialect", ["crm", "pcs"])
def test_the_agent_pages_examples_load_into_an_empty_cib(tmp_path, public_tmp, dialect):
    cib = tmp_path / "cib.xml"
    cib.write_text(EMPTY_CIB)
    destdir = os.path.join(public_tmp, "destdir")
    install(destdir)  # crmsh and pcs read the agent's meta-data from /usr/lib/ocf
    if dialect == "crm":
        script = tmp_path / "example.crm"
        script.write_text(CRM_EXAMPLE + "property stonith-enabled=false\n")
        argv = ["crm", "configure", "load", "update", str(script)]
    else:
        commands = PCS_EXAMPLE.replace("\\\n", " ").replace("pcs ", 'pcs -f "$CIB_file" ')
        argv = ["sh", "-ec", commands]
    env = dict(os.environ, CIB_file=str(cib))
    loaded = subprocess.run(as_if_installed(argv, destdir), env=env, capture_output=True,
                            text=True, timeout=180)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    xml = cib.read_text()
    assert 'type="mfsmaster"' in xml and 'symmetrical="false"' in xml
    assert re.search(r'name="promotable" value="true"', xml), xml
