"""Operator's command line: what a MooseFS data directory restores to, and why.

  python3 -m moosefs inspect DATA_PATH [--thorough] [--json]
          [--known VERSION[:FINGERPRINT]] [--last-master-here]

--known gives what the cluster knows (with Pacemaker: the version and fingerprint in the
cluster property mfsha-RESOURCE-hwm, `VERSION:METAID:NODE:FINGERPRINT`); add
--last-master-here on the node named there. Without --known the history rule decides
from the files alone, and says so when it cannot.

Read-only: it starts no daemon and changes no file. Exit 0 when restorable."""
from __future__ import annotations

import sys

from .history import Known


def parse_known(text: str | None, last_master_here: bool) -> Known | None:
    """--known VERSION[:FINGERPRINT]; ValueError naming what is wrong."""
    if text is None:
        return None
    version, _, fingerprint = text.partition(":")
    if not version.isdigit():
        raise ValueError("--known %s: VERSION must be a number" % text)
    return Known(int(version), last_master_here, fingerprint)


def report(found, known: Known | None) -> dict:
    """An inspection (moosefs.inspect.Inspection) as plain data."""
    return {
        "data_path": found.data_path, "verdict": found.verdict, "version": found.version,
        "metadata_id": found.metaid_hex, "reason": found.reason,
        "restorable": found.restorable,
        "cluster_knowledge": None if known is None else {
            "version": known.version, "last_master_here": known.last_master_here,
            "fingerprint": known.fingerprint or None},
        "history_used": found.source or None, "history_why": found.source_why or None,
        "images": [{"name": i.name, "signature": i.signature, "version": i.version,
                    "metadata_id": "%016X" % i.metaid, "usable": i.valid}
                   for i in found.images],
        "changelogs": [{"name": c.name, "first": c.first, "last": c.last,
                        "partial_tail_bytes": c.partial_tail} for c in found.changelogs],
        "repairs": [{"kind": r.kind, "name": r.name, "reason": r.reason}
                    for r in found.repairs]}


def report_text(found, known: Known | None) -> str:
    lines = ["verdict: %s\nversion: %d\nmetadata id: %s\nreason: %s" % (
        found.verdict, found.version, found.metaid_hex, found.reason)]
    lines.append("cluster knowledge: %s" % (
        "none given" if known is None else "version %d, last master %s%s" % (
            known.version, "this node" if known.last_master_here else "another node",
            ", fingerprint " + known.fingerprint if known.fingerprint else "")))
    lines.append("history used: %s%s" % (found.source or "-",
                                         " (%s)" % found.source_why if found.source_why else ""))
    for image in found.images:
        lines.append("image %s: %s version %d id %016X%s" % (
            image.name, image.signature or "?", image.version, image.metaid,
            "" if image.valid else " (not usable)"))
    for log in found.changelogs:
        lines.append("changelog %s: %d-%d%s" % (
            log.name, log.first, log.last,
            " partial tail %d bytes" % log.partial_tail if log.partial_tail else ""))
    for repair in found.repairs:
        lines.append("restore would %s %s: %s" % (repair.kind, repair.name, repair.reason))
    return "\n".join(lines)


def run_inspect(data_path: str, thorough: bool, known: Known | None, as_json: bool) -> int:
    """Print the inspection of `data_path`; 0 when restorable, else 1."""
    import json

    from .inspect import inspect
    found = inspect(data_path, thorough=thorough, known=known)
    print(json.dumps(report(found, known), indent=2) if as_json else report_text(found, known))
    return 0 if found.restorable else 1


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python3 -m moosefs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="inspect")
    inspect = commands.add_parser("inspect", help="what DATA_PATH restores to")
    add_inspect_options(inspect)
    args = parser.parse_args(argv[1:])
    try:
        known = parse_known(args.known, args.last_master_here)
    except ValueError as error:
        parser.error(str(error))
    return run_inspect(args.data_path, args.thorough, known, args.json)


def add_inspect_options(parser, json_default=False) -> None:
    """The inspect command's arguments, shared with `mfsha inspect` (whose --json may
    also come before the command: it passes argparse.SUPPRESS as `json_default`)."""
    parser.add_argument("data_path", metavar="DIR", help="a MooseFS data directory")
    parser.add_argument("--thorough", action="store_true",
                        help="check every changelog line, not only each file's ends")
    parser.add_argument("--known", metavar="VERSION[:FINGERPRINT]",
                        help="the version (and fingerprint) the cluster's last master reached")
    parser.add_argument("--last-master-here", action="store_true",
                        help="this node was the cluster's last master (with --known)")
    parser.add_argument("--json", action="store_true", default=json_default,
                        help="machine-readable output")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
