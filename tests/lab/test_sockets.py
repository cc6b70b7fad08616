"""The failover benchmark's view of a process's TCP connections (lab/sockets.py), checked
on a real loopback connection of this process."""
import os
import socket

from lab.sockets import established_to


def test_a_new_connection_is_seen_and_a_closed_one_is_gone():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert established_to(os.getpid(), "127.0.0.1", port) == set()
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        accepted, _ = server.accept()
        try:
            seen = established_to(os.getpid(), "127.0.0.1", port)
            # one socket: the client's (the accepted one's remote end is the client port)
            assert len(seen) == 1
            assert established_to(os.getpid(), "127.0.0.1", port + 1 if port < 65535 else 1) \
                == set()
        finally:
            client.close()
            accepted.close()
        assert established_to(os.getpid(), "127.0.0.1", port) == set()


def test_a_process_that_is_gone_has_no_connections():
    assert established_to(2 ** 22 + 1, "127.0.0.1", 9421) == set()
