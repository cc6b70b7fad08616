"""mfsha-ucarp: MooseFS master failover on ucarp, with the safe restore of mfsha.

  mfsha-ucarp up IFACE VIP [CONFIG]     ucarp's --upscript (through /usr/libexec/mfsha/ucarp-up)
  mfsha-ucarp down IFACE VIP [CONFIG]   ucarp's --downscript (/usr/libexec/mfsha/ucarp-down)
  mfsha-ucarp serve [CONFIG]            answer peers how fresh this node's metadata is
  mfsha-ucarp status [CONFIG]           this node's role, metadata, mark, and the peers'

CONFIG defaults to /etc/mfs/mfsha-ucarp.cfg (ucarp passes its --xparam here). Bad input
is one line on stderr and exit code 2, with nothing changed; a failure exits 1.
"""
from __future__ import annotations

import sys

from .settings import DEFAULT_PATH, SettingsError, check_address, check_interface, load

USAGE = __doc__.split("\n\n")[1]


def logger(settings):
    from ocf.log import Logger
    return Logger("mfsha-ucarp", "", environ={
        "HA_LOGFILE": settings.text("LOG_FILE"),
        "HA_LOGFACILITY": settings.text("SYSLOG_FACILITY")})


def status(settings) -> str:
    from .freshness import LocalMark, ask_peers, inspect_here, local_node
    node, mark = local_node(settings), LocalMark(settings)
    own, found = inspect_here(node, mark)
    current = mark.read()
    pid = node.master.pid() or node.metalogger.pid()
    lines = ["role: %s%s" % (node.role(), " (pid %d)" % pid if pid else ""),
             "metadata here: %s" % ("restores to version %d (metadata id %016X)" % (
                 own.version, own.metaid) if own else "none: " + found.summary()),
             "high-water mark: %s" % ("version %d, reached by %s" % (
                 current.version, "this node's master" if current.node == mark.me
                 else current.node or "a peer") if current else "none")]
    for peer, answer in sorted(ask_peers(settings, logger(settings)).items()):
        lines.append("peer %s: %s" % (peer, "no answer" if answer is None else
                                       "version %d, %s, mark %d" % (answer.version, answer.role,
                                                                    answer.mark)))
    return "\n".join(lines)


def serve(settings, log) -> None:
    from .freshness import LocalMark, Responder, local_node, serve as answer_peers
    from .hooks import restart_holed_metalogger, scan_store
    node, mark = local_node(settings), LocalMark(settings)
    responder = Responder(node, mark, scan_store(settings), lambda found:
                          restart_holed_metalogger(settings, node, mark, log, found))
    answer_peers(settings, responder, log)


def main(argv: list[str]) -> int:
    from .hooks import HookError, Hooks, down, up
    args = argv[1:]
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    verb, rest = args[0], args[1:]
    arity = {"up": (2, 3), "down": (2, 3), "serve": (0, 1), "status": (0, 1)}
    if verb not in arity or not arity[verb][0] <= len(rest) <= arity[verb][1]:
        sys.stderr.write("mfsha-ucarp: usage:\n%s\n" % USAGE)
        return 2
    try:
        if verb in ("up", "down"):
            iface, vip = check_interface(rest[0]), check_address(rest[1])
            settings = load(rest[2] if len(rest) > 2 else DEFAULT_PATH)
            hooks = Hooks(settings, logger(settings), iface, vip)
        else:
            settings = load(rest[0] if rest else DEFAULT_PATH)
    except SettingsError as error:
        sys.stderr.write("mfsha-ucarp: %s\n" % error)
        return 2
    log = logger(settings)
    try:
        if verb == "up":
            up(hooks)
        elif verb == "down":
            down(hooks)
        elif verb == "serve":
            serve(settings, log)
        else:
            print(status(settings))
    except (HookError, SettingsError, OSError) as error:
        log.error("%s: %s" % (verb, error))
        sys.stderr.write("mfsha-ucarp: %s: %s\n" % (verb, error))
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
