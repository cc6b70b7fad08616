"""Operator's command line: what a MooseFS data directory restores to.

  python3 -m moosefs inspect DATA_PATH [--thorough]

Read-only: it starts no daemon and changes no file. Exit 0 when restorable."""
from __future__ import annotations

import sys

from .inspect import inspect


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "inspect":
        print(__doc__)
        return 2
    found = inspect(argv[2], thorough="--thorough" in argv)
    print("verdict: %s\nversion: %d\nmetadata id: %s\nhistory used: %s\nreason: %s" % (
        found.verdict, found.version, found.metaid_hex, found.source or "-", found.reason))
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
