"""Crafting MooseFS data directories byte by byte, for tests that need no daemon."""
from __future__ import annotations

import os

from moosefs.files import EOF_MARKER, NEW_SIGNATURE

METAID = 0x6B06C1F8DBC0458C


def write_image(path: str, version: int, metaid: int = METAID, complete: bool = True,
                signature: bytes = b"MFSM 2.0", body: int = 64, mtime: float | None = None) -> str:
    with open(path, "wb") as stream:
        if signature == NEW_SIGNATURE:
            stream.write(NEW_SIGNATURE)
        else:
            stream.write(signature + version.to_bytes(8, "big") + metaid.to_bytes(8, "big"))
            stream.write(b"\0" * body)
            if complete:
                stream.write(EOF_MARKER)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def change_line(change_id: int, text: str = "ACCESS(1)") -> bytes:
    return b"%d: 1795604984|%s\n" % (change_id, text.encode())


def write_changelog(path: str, ids, partial: bytes = b"", text: str = "ACCESS(1)",
                    mtime: float | None = None) -> str:
    with open(path, "wb") as stream:
        for change_id in ids:
            stream.write(change_line(change_id, text))
        stream.write(partial)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
