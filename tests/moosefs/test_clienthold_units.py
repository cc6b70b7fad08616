"""The held config and the chunkserver list, without daemons: which lines the copy
replaces, whose file mode it keeps, when WORKING_USER could not reload, and the two
list formats."""
from __future__ import annotations

import os
import pwd
import struct

import pytest

from moosefs import config
from moosefs.chunkservers import RECORD_BYTES, ListError, _record, missing
from moosefs.clienthold import HOLD_HOST, open_to_clients, unreadable_reason, write_closed


def admin_cfg(tmp_path, text: str, mode: int = 0o644):
    path = tmp_path / "mfsmaster.cfg"
    path.write_text(text)
    os.chmod(path, mode)
    return config.master(str(path))


def test_the_copy_moves_only_the_client_listener_and_keeps_the_files_mode(tmp_path):
    cfg = admin_cfg(tmp_path, "DATA_PATH = /srv/mfs\nMATOCL_LISTEN_HOST = 10.0.0.9 # vip\n"
                    "MATOCU_LISTEN_PORT = 9521\nMATOCS_LISTEN_PORT = 9420\n", mode=0o640)
    held = str(tmp_path / "held.cfg")
    port = write_closed(cfg, held)
    copy = config.master(held)
    assert copy.get("MATOCL_LISTEN_HOST") == HOLD_HOST and copy.integer("MATOCL_LISTEN_PORT") == port
    assert copy.get("MATOCU_LISTEN_PORT") == "" and copy.get("DATA_PATH") == "/srv/mfs"
    assert copy.get("MATOCS_LISTEN_PORT") == "9420"
    assert os.stat(held).st_mode & 0o777 == 0o640
    assert port != 9421 and 1024 <= port < 65536


def test_opening_turns_the_copy_into_a_link_to_the_administrators_file(tmp_path):
    cfg = admin_cfg(tmp_path, "DATA_PATH = /srv/mfs\n")
    held = str(tmp_path / "held.cfg")
    write_closed(cfg, held)
    with pytest.raises(ProcessLookupError):  # the link is in place before the signal
        open_to_clients(cfg, held, 2 ** 22 + 1)
    assert os.readlink(held) == os.path.abspath(cfg.path)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".new")] == []
    with pytest.raises(ProcessLookupError):  # never kill(0): our own process group
        open_to_clients(cfg, held, 0)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_a_file_the_working_user_cannot_read_is_reported(tmp_path):
    nobody = pwd.getpwnam("nobody")
    cfg = admin_cfg(tmp_path, "WORKING_USER = nobody\nWORKING_GROUP = nogroup\n", mode=0o640)
    assert "not readable by WORKING_USER nobody" in unreadable_reason(cfg)
    os.chown(cfg.path, nobody.pw_uid, 0)
    assert unreadable_reason(cfg) is None
    os.chown(cfg.path, 0, 0)
    os.chmod(cfg.path, 0o644)
    assert unreadable_reason(cfg) is None
    missing_user = admin_cfg(tmp_path, "WORKING_USER = no-such-user-here\n")
    assert "cannot tell" in unreadable_reason(missing_user)


def record(major: int, flags: int, ip: bytes, port: int) -> bytes:
    mapped = ip if major == 4 else b""
    head = struct.pack(">I", flags << 24 | 0x030075) + ip + mapped + struct.pack(">HH", port, 7)
    return head + bytes(RECORD_BYTES[major] - len(head))


@pytest.mark.parametrize("major", [3, 4])
def test_both_list_formats_give_address_and_state(major):
    up = _record(record(major, 0, bytes([10, 0, 0, 5]), 9422), major)
    down = _record(record(major, 1, bytes([10, 0, 0, 6]), 9422), major)
    kept = _record(record(major, 1 | 2, bytes([10, 0, 0, 7]), 9422), major)
    assert up.address == "10.0.0.5:9422" and up.connected and not up.maintenance
    assert not down.connected and kept.maintenance
    assert missing([up, down, kept]) == [down]


def test_an_unknown_generation_has_no_list_format():
    from moosefs.chunkservers import listed
    with pytest.raises(ListError, match="no chunkserver list format"):
        listed("127.0.0.1", 9, 2)


def test_the_wait_gives_the_others_a_bounded_time_once_one_is_back(monkeypatch):
    from moosefs import chunkservers
    a, b = (chunkservers.Chunkserver(n, False, False) for n in ("10.0.0.5:9422", "10.0.0.6:9422"))
    lists = iter([[a, b], [a, b], [chunkservers.Chunkserver(a.address, True, False), b]])
    monkeypatch.setattr(chunkservers, "listed", lambda *args: next(lists, [chunkservers.Chunkserver(a.address, True, False), b]))
    clock = {"now": 1000.0}
    monkeypatch.setattr("time.time", lambda: clock["now"])
    monkeypatch.setattr("time.sleep", lambda seconds: clock.update(now=clock["now"] + seconds))
    late = chunkservers.wait_connected("h", 1, 3, after_first_s=2.0, until=1100.0, poll_s=0.5)
    # a came back at 1001.0 (third list); b was given 2 s more, not until 1100
    assert late == [b] and clock["now"] == pytest.approx(1003.0)


def test_the_wait_ends_at_once_when_every_server_is_back_or_none_is_known(monkeypatch):
    from moosefs import chunkservers
    monkeypatch.setattr(chunkservers, "listed", lambda *args: [])
    assert chunkservers.wait_connected("h", 1, 3, 2.0, until=0.0) == []


def _one_shot_server(reply: bytes | None):
    """A listener on loopback that answers its first connection with `reply` (None:
    accepts and says nothing; b"": closes it); returns (port, closer)."""
    import socket
    import threading
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    held = []

    def serve():
        connection, _ = listener.accept()
        held.append(connection)
        connection.recv(8)
        if reply == b"":
            connection.close()
        elif reply is not None:
            connection.sendall(reply)
    threading.Thread(target=serve, daemon=True).start()

    def close():
        for sock in held + [listener]:
            sock.close()
    return listener.getsockname()[1], close


@pytest.mark.parametrize("reply, words", [
    (None, "timed out"),                                    # accepts, never answers
    (struct.pack(">II", 999, 0), "unexpected answer 999"),  # not a master's answer
    (b"", "connection closed by the master"),               # closes at once
])
def test_the_health_question_fails_without_a_masters_answer(reply, words):
    from moosefs.chunkservers import check_answers
    port, close = _one_shot_server(reply)
    try:
        with pytest.raises(ListError, match=words):
            check_answers("127.0.0.1", port, 0.5)
    finally:
        close()


def test_the_health_question_tells_nothing_listening_from_no_answer():
    import socket
    from moosefs.chunkservers import Refused, check_answers
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Refused):
        check_answers("*", port, 0.5)
