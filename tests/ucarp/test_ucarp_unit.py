"""mfsha-ucarp without ucarp: bad input changes nothing, the config, the freshness line,
the local high-water mark, and the up hook's decision (ucarp.hooks.refusal). The hooks
with real ucarp and MooseFS are in tests/cluster/test_ucarp.py."""
from __future__ import annotations

import os
import subprocess

import pytest

from failover.mark import Freshness
from ucarp.freshness import Answer, LocalMark, Responder, is_local
from ucarp.settings import Settings, SettingsError, load

from tests.agentlib import ROOT
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


def secret_file(tmp_path, text: str = "a-shared-secret-of-the-test-peers", mode: int = 0o600):
    path = tmp_path / "secret"
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return str(path)


def example_with_secret(tmp_path, **changes: str) -> str:
    """The example config with a secret file of the test's (and other `changes`)."""
    import re
    text = open(EXAMPLE).read()
    if "SECRET_FILE" not in changes:
        changes["SECRET_FILE"] = secret_file(tmp_path)
    for key, value in changes.items():
        text = re.sub(r"(?m)^%s =.*$" % key, "%s = %s" % (key, value), text)
    path = tmp_path / "mfsha-ucarp.cfg"
    path.write_text(text)
    return str(path)


def test_the_example_config_loads_with_its_peers(tmp_path):
    settings = load(example_with_secret(tmp_path))
    assert settings.peers == ["192.168.10.11", "192.168.10.12", "192.168.10.13"]
    assert settings.port == 9429 and settings.number("SETTLE_TIME") == 1.5
    assert not settings.flag("ALLOW_DATA_LOSS")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_secret_others_can_read_or_a_missing_one_is_refused(tmp_path):
    readable = secret_file(tmp_path, mode=0o644)
    with pytest.raises(SettingsError, match="only root can read"):
        load(example_with_secret(tmp_path, SECRET_FILE=readable))
    with pytest.raises(SettingsError, match="secret file /nonexistent/s: No such file"):
        load(example_with_secret(tmp_path, SECRET_FILE="/nonexistent/s"))
    done = run("status", example_with_secret(tmp_path, SECRET_FILE=readable))
    assert done.returncode == 2 and "only root can read" in done.stderr
    short = secret_file(tmp_path, text="too-short")
    with pytest.raises(SettingsError, match="fewer than 16 bytes"):
        load(example_with_secret(tmp_path, SECRET_FILE=short))


def test_a_responder_with_no_address_of_its_own_in_peers_is_refused(tmp_path):
    foreign = ["198.51.100.7", "203.0.113.7"]  # documentation ranges
    if any(is_local(a) for a in foreign):
        pytest.skip("this machine holds one of %s" % foreign)
    settings = load(example_with_secret(tmp_path, PEERS=" ".join(foreign)))
    with pytest.raises(SettingsError, match="none of PEERS is this node's address"):
        settings.bind_address()
    settings = load(example_with_secret(tmp_path, PEERS=foreign[0] + " 127.0.0.1"))
    assert settings.bind_address() == "127.0.0.1"


def test_an_answer_counts_only_with_the_right_tag_and_nonce():
    secret, nonce = b"s" * 20, "0123456789abcdef0123"
    answer = Answer(1234, 0xABC, "metalogger", 1200)
    parsed = Answer.parse(answer.line(secret, nonce), secret, nonce)
    assert (parsed.version, parsed.metaid, parsed.role, parsed.mark) == (1234, 0xABC,
                                                                          "metalogger", 1200)
    assert Answer.parse(answer.line(b"t" * 20, nonce), secret, nonce) is None  # another secret
    assert Answer.parse(answer.line(secret, "f" * 20), secret, nonce) is None  # a replay
    for poisoned in ("mfsha-ucarp version=0 metaid=0 role=none mark=99999999999",
                     "mfsha-ucarp version=0 metaid=0 role=master mark=0",
                     "SSH-2.0-OpenSSH", ""):
        assert Answer.parse(poisoned, secret, nonce) is None
    line = answer.line(secret, nonce)
    assert Answer.parse(line.replace("mark=1200", "mark=9999"), secret, nonce) is None


def test_a_peer_mark_counts_only_for_the_same_known_file_system(tmp_path):
    from ucarp.hooks import learn_marks
    mark = LocalMark(Settings("x", {"STATE_DIR": str(tmp_path)}), me="10.0.0.1")
    learn_marks(mark, {"p": Answer(0, 0, "none", 10**9)}, 0xAB)       # 0 is not a wildcard
    learn_marks(mark, {"p": Answer(500, 0xCD, "none", 10**9)}, 0xAB)  # another file system
    learn_marks(mark, {"p": Answer(500, 0xAB, "none", 10**9)}, 0)     # ours unknown
    assert mark.read() is None
    learn_marks(mark, {"p": Answer(500, 0xAB, "metalogger", 700)}, 0xAB)
    assert mark.read() == Freshness(700, 0xAB, "p")
    assert not mark.known().last_master_here


def test_the_responder_answers_configured_peers_with_a_proof(tmp_path):
    """serve() on loopback: a peer with the secret gets a proven answer; one with
    another secret counts the responder as silent, and says so."""
    import io
    import threading
    import time
    from ocf.log import Logger
    from ucarp.freshness import ask, serve
    from ucarp.settings import load as load_settings

    class Fixed:
        def current(self):
            return Answer(77, 0xAB, "metalogger", 70)
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = example_with_secret(tmp_path, PEERS="127.0.0.1", FRESHNESS_PORT=str(port),
                              STATE_DIR=str(tmp_path / "state"))
    settings = load_settings(cfg)
    log = Logger("t", "", {}, io.StringIO())
    threading.Thread(target=serve, args=(settings, Fixed(), log), daemon=True).start()
    secret = settings.secret()
    deadline = time.monotonic() + 5
    answer, why = None, ""
    while answer is None and time.monotonic() < deadline:
        answer, why = ask("127.0.0.1", port, 1.0, secret)
        time.sleep(0.05)
    assert answer is not None and answer.version == 77, why
    wrong, why = ask("127.0.0.1", port, 1.0, b"another-secret-entirely")
    assert wrong is None and "without a valid tag" in why


def test_local_mark_only_rises_except_at_promotion(tmp_path):
    settings = Settings("x", {"STATE_DIR": str(tmp_path)})
    mark = LocalMark(settings, me="10.0.0.1")
    assert mark.read() is None and mark.known() is None
    assert mark.raise_to(Freshness(100, 7, "10.0.0.1", "ab"))
    assert not mark.raise_to(Freshness(90, 7))
    assert not mark.raise_to(Freshness(500, 8))  # another file system's version
    assert mark.raise_to(Freshness(150, 7, "10.0.0.2"))
    assert mark.read() == Freshness(150, 7, "10.0.0.2")
    mark.write(Freshness(120, 7, "10.0.0.1", "cd"))  # a forced promotion
    known = mark.known()
    assert known.last_master_here and (known.version, known.fingerprint) == (120, "cd")


def test_a_local_mark_of_the_earlier_format_still_reads(tmp_path):
    (tmp_path / "high-water-mark").write_text("version=300\nmetaid=00000000000000AB\nhere=1\n")
    mark = LocalMark(Settings("x", {"STATE_DIR": str(tmp_path)}), me="10.0.0.1")
    assert mark.read() == Freshness(300, 0xAB, "10.0.0.1")


def test_is_local():
    assert is_local("127.0.0.1")
    assert not is_local("192.0.2.77")  # TEST-NET-1, never assigned here


def test_the_responder_ignores_other_addresses_and_inspects_at_most_once_a_second(
        tmp_path, monkeypatch):
    import io
    from ucarp import freshness
    import socket
    import threading
    import time
    from ocf.log import Logger
    from ucarp.freshness import ask, serve
    from ucarp.settings import load as load_settings

    class Node:
        inspections = 0

    def answer_of(node, mark, store):
        Node.inspections += 1
        return Answer(77, 0xAB, "metalogger", 70), None
    monkeypatch.setattr(freshness, "answer_of", answer_of)

    def started(peers: str) -> tuple[int, bytes]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        folder = tmp_path / peers.replace(" ", "_")
        folder.mkdir()
        settings = load_settings(example_with_secret(
            folder, PEERS=peers, BIND_ADDRESS="127.0.0.1", FRESHNESS_PORT=str(port)))
        log = Logger("t", "", {}, io.StringIO())
        threading.Thread(target=serve, args=(settings, Responder(Node(), None), log),
                         daemon=True).start()
        until = time.monotonic() + 5
        while time.monotonic() < until:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        return port, settings.secret()

    port, secret = started("127.0.0.9")  # the asker (127.0.0.1) is not a peer
    answer, why = ask("127.0.0.1", port, 1.0, secret)
    assert answer is None and why == "no answer"
    port, secret = started("127.0.0.1")
    before = Node.inspections
    replies = [ask("127.0.0.1", port, 1.0, secret)[0] for _ in range(30)]
    assert all(r is not None and r.version == 77 for r in replies)
    assert Node.inspections - before <= 3  # 30 questions in well under 3 s


def test_the_worker_steps_down_only_under_the_hooks_lock(tmp_path):
    """A worker that gave up waiting for the lock must not stop daemons another hook,
    holding the lock, is restoring or starting."""
    import fcntl
    import io
    from ocf.log import Logger
    from ucarp import hooks as hooks_module
    settings = Settings("x", {"STATE_DIR": str(tmp_path), "STOP_TIMEOUT": "0.3"})
    steps = []

    class Hooks:
        log = Logger("t", "", {}, io.StringIO())

        def __init__(self):
            self.settings = settings

        locked = hooks_module.Hooks.locked

        def become_master(self):
            raise hooks_module.HookError("another hook still runs after 0 s")

        def step_down(self):
            steps.append("step_down")
    with open(tmp_path / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another hook is at work
        why, code = hooks_module.work(Hooks())
    assert code == 1 and "another hook still runs" in why
    assert steps == []
    why, code = hooks_module.work(Hooks())  # nobody holds the lock now
    assert steps == ["step_down"]


def test_a_setting_that_is_not_a_boolean_is_named(tmp_path):
    """FAST_STOP = maybe must not quietly mean 0: the hooks refuse the config."""
    cfg = example_with_secret(tmp_path, FAST_STOP="maybe")
    with pytest.raises(SettingsError, match="FAST_STOP = 'maybe' is not 0 or 1"):
        load(cfg)
    done = run("status", cfg)
    assert done.returncode == 2 and "FAST_STOP = 'maybe' is not 0 or 1" in done.stderr
