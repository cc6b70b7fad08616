"""Operator's command line: what a MooseFS data directory restores to, and why.

  python3 -m moosefs inspect DATA_PATH [--thorough]
          [--known VERSION[:FINGERPRINT]] [--last-master-here]

--known gives what the cluster knows (with Pacemaker: the version and fingerprint in the
cluster property mfsha-RESOURCE-hwm, `VERSION:METAID:NODE:FINGERPRINT`); add
--last-master-here on the node named there. Without --known the history rule decides
from the files alone, and says so when it cannot.

Read-only: it starts no daemon and changes no file. Exit 0 when restorable."""
from __future__ import annotations

import sys

from .history import Known
from .inspect import inspect


def parse_known(argv: list[str]) -> Known | None:
    if "--known" not in argv:
        return None
    index = argv.index("--known")
    if index + 1 >= len(argv):
        raise ValueError("--known needs VERSION[:FINGERPRINT]")
    version, _, fingerprint = argv[index + 1].partition(":")
    if not version.isdigit():
        raise ValueError("--known %s: VERSION must be a number" % argv[index + 1])
    return Known(int(version), "--last-master-here" in argv, fingerprint)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "inspect":
        print(__doc__)
        return 2
    try:
        known = parse_known(argv)
    except ValueError as error:
        print("moosefs inspect: %s" % error, file=sys.stderr)
        return 2
    found = inspect(argv[2], thorough="--thorough" in argv, known=known)
    print("verdict: %s\nversion: %d\nmetadata id: %s\nreason: %s" % (
        found.verdict, found.version, found.metaid_hex, found.reason))
    print("cluster knowledge: %s" % (
        "none given" if known is None else "version %d, last master %s%s" % (
            known.version, "this node" if known.last_master_here else "another node",
            ", fingerprint " + known.fingerprint if known.fingerprint else "")))
    print("history used: %s%s" % (found.source or "-",
                                  " (%s)" % found.source_why if found.source_why else ""))
    for image in found.images:
        print("image %s: %s version %d id %016X%s" % (image.name, image.signature or "?",
              image.version, image.metaid, "" if image.valid else " (not usable)"))
    for log in found.changelogs:
        print("changelog %s: %d-%d%s" % (log.name, log.first, log.last,
              " partial tail %d bytes" % log.partial_tail if log.partial_tail else ""))
    for repair in found.repairs:
        print("restore would %s %s: %s" % (repair.kind, repair.name, repair.reason))
    return 0 if found.restorable else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
