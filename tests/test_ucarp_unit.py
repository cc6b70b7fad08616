"""mfsha-ucarp without ucarp: bad input changes nothing, the config, the freshness line,
the local high-water mark, and the up hook's decision (ucarp.hooks.refusal). The hooks
with real ucarp and MooseFS are in tests/cluster/test_ucarp.py."""
from __future__ import annotations

import os
import subprocess

import pytest

from ucarp.freshness import Answer, LocalMark, Mark, is_local
from ucarp.hooks import refusal
from ucarp.settings import Settings, SettingsError, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = os.path.join(ROOT, "sbin", "mfsha-ucarp")
EXAMPLE = os.path.join(ROOT, "ucarp-examples", "mfsha-ucarp.cfg")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=30)


def addresses() -> str:
    return subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout


@pytest.mark.parametrize("args, reason", [
    (["up", "nosuch0", "10.250.0.1", EXAMPLE], "interface 'nosuch0' does not exist"),
    (["down", "lo", "10.250.0.300", EXAMPLE], "'10.250.0.300' is not an IP address"),
    (["up", "lo", "master-vip", EXAMPLE], "'master-vip' is not an IP address"),
    (["up", "lo", "10.250.0.1", "/nonexistent/mfsha-ucarp.cfg"],
     "config /nonexistent/mfsha-ucarp.cfg does not exist"),
    (["up", "lo"], "usage"),
    (["promote"], "usage"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(args, reason):
    before = addresses()
    done = run(*args)
    assert done.returncode == 2
    assert reason in done.stderr
    assert "Traceback" not in done.stderr
    if reason != "usage":
        assert len(done.stderr.strip().splitlines()) == 1
    assert addresses() == before


def test_a_bad_config_value_is_named(tmp_path):
    path = tmp_path / "bad.cfg"
    path.write_text("QUERY_TIMEOUT = soon\n")
    with pytest.raises(SettingsError, match="QUERY_TIMEOUT = 'soon' is not a number"):
        load(str(path))
    path.write_text("PEER = 10.0.0.1\n")  # a typo of PEERS
    with pytest.raises(SettingsError, match="unknown setting PEER"):
        load(str(path))
    done = run("up", "lo", "10.250.0.1", str(path))
    assert done.returncode == 2 and "unknown setting PEER" in done.stderr


def test_the_example_config_loads_with_its_peers():
    settings = load(EXAMPLE)
    assert settings.peers == ["192.168.10.11", "192.168.10.12", "192.168.10.13"]
    assert settings.port == 9429 and settings.number("SETTLE_TIME") == 1.5
    assert not settings.flag("ALLOW_DATA_LOSS")


def test_freshness_line_round_trips_and_rejects_garbage():
    answer = Answer(1234, 0xABC, "metalogger", 1200)
    parsed = Answer.parse(answer.line().strip())
    assert (parsed.version, parsed.metaid, parsed.role, parsed.mark) == (1234, 0xABC,
                                                                          "metalogger", 1200)
    assert Answer.parse("SSH-2.0-OpenSSH") is None
    assert Answer.parse("mfsha-ucarp version=x metaid=0 role=master mark=0") is None
    assert Answer.parse("mfsha-ucarp version=1 metaid=0 role=king mark=0") is None


def test_local_mark_only_rises_except_at_promotion(tmp_path):
    settings = Settings("x", {"STATE_DIR": str(tmp_path)})
    mark = LocalMark(settings)
    assert mark.read() == (0, 0, False) and mark.known() is None
    assert mark.raise_to(100, 7, here=True)
    assert not mark.raise_to(90, 7, here=False)
    assert not mark.raise_to(500, 8, here=False)  # another file system's version
    assert mark.raise_to(150, 7, here=False)
    assert mark.read() == (150, 7, False)
    assert mark.raise_to(120, 7, here=True, always=True)  # a forced promotion
    assert mark.read() == (120, 7, True) and mark.known().last_master_here


class Found:
    """The fields of moosefs.inspect.Inspection that refusal() reads."""

    def __init__(self, version: int, verdict: str = "restorable", metaid: int = 7) -> None:
        self.version = version
        self.metaid = metaid
        self.verdict = verdict
        self.restorable = verdict == "restorable"
        self.data_path = "/var/lib/mfs"
        self.reason = "only incomplete image(s)" if verdict == "no-image" else ""


def peer(version: int, role: str = "metalogger", metaid: int = 7, mark: int = 0) -> Answer:
    return Answer(version, metaid, role, mark)


def test_refusal_rules():
    fresh = Found(500)
    assert refusal(fresh, {"b": peer(500), "c": None}, Mark(480, 7, False), False, False) == ""
    assert "peer b already runs mfsmaster" in refusal(
        fresh, {"b": peer(10, "master")}, Mark(0, 0, False), False, False)
    assert "peer c holds fresher metadata (version 501, here 500)" in refusal(
        fresh, {"b": peer(500), "c": peer(501)}, Mark(0, 0, False), False, False)
    # another file system's version is not fresher, and ALLOW_DATA_LOSS overrides
    assert refusal(fresh, {"c": peer(900, metaid=8)}, Mark(0, 0, False), False, False) == ""
    assert refusal(fresh, {"c": peer(501)}, Mark(0, 0, False), False, True) == ""
    assert "below the version 600" in refusal(fresh, {}, Mark(600, 7, False), False, False)
    assert refusal(fresh, {}, Mark(600, 7, False), False, True) == ""
    assert "cannot be restored: only incomplete" in refusal(
        Found(0, "no-image"), {"b": peer(500)}, Mark(0, 0, False), False, False)


def test_refusal_of_an_empty_node():
    empty = Found(0, "empty", metaid=0)
    assert refusal(empty, {"b": peer(0, metaid=0)}, Mark(0, 0, False), True, False) == ""
    assert "ALLOW_NEW_FILESYSTEM" in refusal(empty, {}, Mark(0, 0, False), False, False)
    assert "peer b holds fresher" in refusal(empty, {"b": peer(3)}, Mark(0, 0, False), True, False)
    assert "no metadata" in refusal(empty, {}, Mark(3, 7, False), True, False)


def test_is_local():
    assert is_local("127.0.0.1")
    assert not is_local("192.0.2.77")  # TEST-NET-1, never assigned here
