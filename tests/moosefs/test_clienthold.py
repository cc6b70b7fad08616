"""A master started closed to clients, against real daemons (both MooseFS lines): the
chunkserver registers while clients are refused, the list says when it is back, and
opening lets the client in with every file intact."""
from __future__ import annotations

import os
import time

from moosefs import config
from moosefs.chunkservers import listed, missing, wait_connected
from moosefs.clienthold import HOLD_HOST, open_to_clients, write_closed
from moosefs.daemons import Master, serving
from moosefs.generation import detect
from tests.mfslab import CL_PORT, CSSERV_PORT, wait_until
from tests.moosefs.scenes import bring_up


def restart_closed(node, held_cfg: str) -> int:
    """Stop the node's master cleanly and start it again from a closed copy of its config."""
    cfg = config.master(node.master_cfg)
    Master(node.master_cfg, node.data).stop(30)
    port = write_closed(cfg, held_cfg)
    Master(held_cfg, node.data).start(30)
    wait_until(lambda: serving(HOLD_HOST, port), 10, step=0.05, what="the held listener")
    return port


def test_clients_wait_until_the_chunkserver_is_back_then_read_every_file(lab, public_tmp):
    a, _ = bring_up(lab)
    files = lab.write_files("held", 20)
    major = detect().version[0]
    held_cfg = os.path.join(public_tmp, "held.cfg")
    port = restart_closed(a, held_cfg)

    assert not serving("127.0.0.1", CL_PORT), "clients reach a master that is held"
    late = wait_connected(HOLD_HOST, port, major, 15, time.time() + 15)
    assert late == [], "the chunkserver did not reconnect: %s" % late
    servers = listed(HOLD_HOST, port, major)
    assert [s.address.endswith(":%d" % CSSERV_PORT) for s in servers] == [True]
    assert not serving("127.0.0.1", CL_PORT), "the list request opened the client port"

    open_to_clients(config.master(a.master_cfg), held_cfg, a.master_pid())
    wait_until(lambda: serving("127.0.0.1", CL_PORT), 10, step=0.05, what="the client port")
    assert os.path.realpath(held_cfg) == os.path.realpath(a.master_cfg)
    lab.assert_files(files)


def test_a_chunkserver_that_stays_away_is_reported_missing(lab, public_tmp):
    a, _ = bring_up(lab)
    major = detect().version[0]
    os.kill(lab.chunkserver_pid(), 9)
    port = restart_closed(a, os.path.join(public_tmp, "held.cfg"))
    started = time.monotonic()
    late = wait_connected(HOLD_HOST, port, major, 15, time.time() + 1.5)
    assert time.monotonic() - started >= 1.4
    assert [s.address.endswith(":%d" % CSSERV_PORT) for s in late] == [True]
    assert not late[0].connected and missing(listed(HOLD_HOST, port, major)) == late
