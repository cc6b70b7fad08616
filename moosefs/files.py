"""Reading MooseFS metadata images and changelogs without starting a daemon.

Images are read by their first 24 and last 16 bytes only; changelogs by their first
and last lines, or line by line when the caller asks for a thorough reading.
"""
from __future__ import annotations

import os

EOF_MARKER = b"[MFS EOF MARKER]"
NEW_SIGNATURE = b"MFSM NEW"
MAXIDHOLE = 10000  # mfsmaster stops reading a changelog at a jump this large (merger.c)

_CHANGELOG_KINDS = ("changelog", "changelog_ml", "changelog_ml_back")
# Sections of a `MFSM 2.0` image that MooseFS 3.0 reads (mfsmaster/metadata.c, v3.0.117);
# 4.x writes more (PATT, patterns), which 3.0 refuses or drops.
SECTIONS_3_0 = frozenset(("NODE", "EDGE", "FREE", "QUOT", "XATR", "PACL", "FLCK", "PLCK",
                          "CSDB", "SESS", "LABS", "SCLA", "OPEN", "CHNK"))
# A change that only MooseFS 4 logs: an idle 4.x master writes one every 30 s (4.57.1+).
IDLE_ENTRY = b"|IDLE("


def changelog_name(name: str) -> tuple[str, int] | None:
    """('changelog_ml', 3) for 'changelog_ml.3.mfs'; None for any other name.

    Plain string work instead of `re`, whose import every monitor would pay for.
    """
    parts = name.split(".")
    if len(parts) != 3 or parts[2] != "mfs" or parts[0] not in _CHANGELOG_KINDS \
            or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


class Image:
    """A `metadata*` file's header: what `mfsmaster -a` would see."""

    # No modification time: which history is the cluster's never rests on file times.
    __slots__ = ("name", "signature", "version", "metaid", "complete", "readable", "size")

    def __init__(self, name: str, signature: str, version: int, metaid: int,
                 complete: bool, readable: bool, size: int) -> None:
        self.name = name
        self.signature = signature
        self.version = version
        self.metaid = metaid
        self.complete = complete
        self.readable = readable
        self.size = size

    @property
    def valid(self) -> bool:
        """mfsmaster accepts it as a restore base."""
        return self.readable and self.complete and self.version > 0

    def __repr__(self) -> str:
        return "Image(%s %s v=%d id=%016X %s)" % (self.name, self.signature, self.version,
                                                 self.metaid, "ok" if self.valid else "invalid")


def is_image_name(name: str) -> bool:
    # mfsmaster considers every file whose name starts with "metadata" and is longer.
    return name.startswith("metadata") and len(name) > 8 and not name.startswith("metadata.crc")


def image_sections(path: str) -> list[str]:
    """Section headers ('NODE 1.4', ...) of a `MFSM 2.0` image, found by skipping each
    section by its length (a few seeks, no data read); [] for other formats."""
    sections = []
    try:
        with _open_for_reading(path) as stream:
            if stream.read(8) != b"MFSM 2.0":
                return []
            stream.seek(24)
            while True:
                header = stream.read(16)
                if len(header) < 16 or header == EOF_MARKER or len(sections) >= 64 \
                        or not (header[:4].isalpha() and header[:4].isupper()
                                and header[4:5] == b" "):
                    break  # the end, or not a section header: nothing more to learn
                sections.append(header[:8].decode("latin-1"))
                stream.seek(int.from_bytes(header[8:], "big"), os.SEEK_CUR)
    except OSError:
        pass
    return sections


def read_image(path: str) -> Image:
    name = os.path.basename(path)
    try:
        stat = os.stat(path)
        with _open_for_reading(path) as stream:
            head = stream.read(24)
            tail = b""
            if stat.st_size >= 24 + len(EOF_MARKER):
                stream.seek(-len(EOF_MARKER), os.SEEK_END)
                tail = stream.read(len(EOF_MARKER))
    except OSError:
        return Image(name, "", 0, 0, False, False, 0)
    signature = head[:8]
    version = metaid = 0
    complete = False
    if signature == NEW_SIGNATURE:
        version, complete = 1, stat.st_size == 8
    elif len(signature) == 8 and signature[:5] == b"MFSM " and signature[6:7] == b"." \
            and 49 <= signature[5] <= 57 and 48 <= signature[7] <= 57:
        format_version = (signature[5] - 48) * 16 + (signature[7] - 48)
        if format_version < 0x20 and len(head) >= 20:
            # 1.x images: 4 bytes of max node id, then the version; no metadata id
            version = int.from_bytes(head[12:20], "big")
        elif len(head) >= 24:
            version = int.from_bytes(head[8:16], "big")
            metaid = int.from_bytes(head[16:24], "big")
        # images older than format 1.6 carry no EOF marker at all
        complete = tail == EOF_MARKER or format_version < 0x16
    return Image(name, signature.decode("latin-1"), version, metaid, complete, True,
                 stat.st_size)


class Changelog:
    """First and last complete change ids of one changelog file.

    `segments` are runs of consecutive ids ((first, last) pairs). A fast reading has
    one segment from the first to the last complete line; a thorough one splits at
    every discontinuity. `garbage_at` is the first id at which mfsmaster would stop
    reading the file (a jump backwards or by MAXIDHOLE or more), with its byte offset.
    """

    __slots__ = ("name", "kind", "number", "first", "last", "partial_tail", "size",
                 "readable", "segments", "garbage_at", "garbage_offset", "garbage_index",
                 "thorough", "idle_entries", "segment_offsets", "last_stamp")

    def __init__(self, name: str) -> None:
        parsed = changelog_name(name)
        self.name = name
        self.kind, self.number = parsed if parsed else ("", -1)
        self.first = 0
        self.last = 0
        self.partial_tail = 0  # bytes after the last newline
        self.size = 0
        self.readable = True
        self.segments: list[tuple[int, int]] = []
        self.garbage_at: int | None = None
        self.garbage_offset: int | None = None
        self.garbage_index: int | None = None  # first segment mfsmaster would not read
        self.thorough = False
        self.idle_entries = 0  # IDLE() changes found by a thorough reading (MooseFS 4 only)
        self.segment_offsets: list[int] = []  # byte offset of each segment (thorough)
        self.last_stamp = 0  # the time (epoch seconds) its last change was made, 0 unknown

    def split_at_garbage(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(segments mfsmaster reads, segments after the jump that it would ignore)."""
        if self.garbage_index is None:
            return self.segments, []
        return self.segments[:self.garbage_index], self.segments[self.garbage_index:]

    @property
    def is_master_file(self) -> bool:
        return self.kind == "changelog"

    @property
    def usable(self) -> bool:
        """mfsmaster skips a file with a partial last line or no valid id."""
        return self.readable and self.partial_tail == 0 and self.first > 0 and self.last > 0

    def __repr__(self) -> str:
        return "Changelog(%s %d-%d partial=%d segments=%s)" % (
            self.name, self.first, self.last, self.partial_tail, self.segments)


def _open_for_reading(path: str):
    """A regular file opened without following a link and without blocking on a FIFO
    (a name in DATA_PATH may hold anything WORKING_USER put there); OSError otherwise."""
    from .safedir import open_regular
    return os.fdopen(open_regular(path), "rb")


_ID_PREFIX_BYTES = 32  # "18446744073709551615: " fits


def _line_stamp(line: bytes) -> int:
    """The time a change was made: `ID: TIMESTAMP|OPERATION(...)`; 0 when not there."""
    stamp = line.partition(b": ")[2][:20].partition(b"|")[0]
    return int(stamp) if stamp.isdigit() else 0


def _line_id(line: bytes) -> int:
    head, sep, _ = line.partition(b":")
    if not sep or not head.strip().isdigit():
        return 0
    return int(head)


def _last_complete_line(stream, size: int) -> tuple[bytes, int]:
    """The last newline-terminated line and the number of bytes after it."""
    block = 65536
    while True:
        start = max(0, size - block)
        stream.seek(start)
        data = stream.read(size - start)
        end = data.rfind(b"\n")
        if end < 0 and start > 0:
            block *= 4
            continue
        if end < 0:
            return b"", size
        begin = data.rfind(b"\n", 0, end) + 1
        if begin == 0 and start > 0:
            block *= 4
            continue
        return data[begin:end], len(data) - end - 1


def read_changelog(path: str, thorough: bool = False, scans: "ScanCache | None" = None) -> Changelog:
    """A fast reading (first and last line), or with `thorough` every line; with
    `scans`, a thorough reading that reads only what was appended since the cache's
    last reading of the same file."""
    log = Changelog(os.path.basename(path))
    try:
        stat = os.stat(path)
        log.size = stat.st_size
        with _open_for_reading(path) as stream:
            # Only the id of the first line is needed: a line may be 200 kB long.
            head = stream.read(_ID_PREFIX_BYTES)
            last_line, log.partial_tail = _last_complete_line(stream, log.size)
            first_line_complete = log.partial_tail < log.size  # some newline exists
            log.first = _line_id(head) if first_line_complete else 0
            log.last = _line_id(last_line)
            log.last_stamp = _line_stamp(last_line)
            if log.first and log.last:
                log.segments = [(log.first, log.last)]
            if scans is not None and log.first:
                scans.scan(stream, log, (stat.st_dev, stat.st_ino))
            elif thorough and log.first:
                _Scanner().feed(stream, 0).finish(log)
    except OSError:
        log.readable = False
    return log


class _Scanner:
    """Runs of consecutive ids and where mfsmaster would stop reading, built line by
    line; its state can be saved and fed the rest of a file later."""

    FIELDS = ("end", "closed", "offsets", "start", "previous", "garbage", "idle")

    def __init__(self, saved: dict | None = None) -> None:
        saved = saved or {}
        self.end = saved.get("end", 0)                 # bytes read: whole lines only
        self.closed = [tuple(s) for s in saved.get("closed", [])]
        self.offsets = list(saved.get("offsets", []))
        self.start = saved.get("start", 0)
        self.previous = saved.get("previous", 0)
        self.garbage = saved.get("garbage")            # [id, offset, segment index]
        self.idle = saved.get("idle", 0)

    def saved(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}

    def feed(self, stream, at: int, until: float | None = None) -> "_Scanner":
        """Read whole lines from byte `at` to the end, or until the monotonic time
        `until` (checked every 64k lines; `end` says how far it got)."""
        import time
        stream.seek(at)
        offset = at
        count = 0
        for line in stream:
            count += 1
            if until is not None and not count & 0xFFFF and time.monotonic() >= until:
                break
            if not line.endswith(b"\n"):
                break  # the partial tail, counted by the fast reading
            change = _line_id(line)
            if IDLE_ENTRY in line:
                self.idle += 1
            previous = self.previous
            if previous and self.garbage is None and (change <= previous
                                                      or change >= previous + MAXIDHOLE):
                # the open segment closes just below
                self.garbage = [change, offset, len(self.closed) + 1]
            if previous and change == previous + 1:
                self.previous = change
            else:
                if previous:
                    self.closed.append((self.start, previous))
                self.start = self.previous = change
                self.offsets.append(offset)
            offset += len(line)
        self.end = offset
        return self

    def finish(self, log: Changelog) -> None:
        log.thorough = True
        log.segments = self.closed + ([(self.start, self.previous)] if self.previous else [])
        log.segment_offsets = list(self.offsets)
        log.idle_entries = self.idle
        if self.garbage is not None:
            log.garbage_at, log.garbage_offset, log.garbage_index = self.garbage


class ScanCache:
    """Thorough readings of changelogs, kept between inspections: a file that only grew
    since (same device and inode, the same first id, at least as long) is read from
    where the last reading stopped. `data` is what to save (plain values). With `until`
    (monotonic time) reading stops there and `incomplete` is set: the readings are then
    partial, and the next inspection goes on from where this one stopped."""

    def __init__(self, data: dict | None = None, until: float | None = None) -> None:
        self.data = data if isinstance(data, dict) else {}
        self.seen: set[str] = set()
        self.bytes_read = 0
        self.until = until
        self.incomplete = False

    def scan(self, stream, log: Changelog, identity: tuple[int, int]) -> None:
        self.seen.add(log.name)
        saved = self._entry(log.name, identity)
        usable = (saved is not None and saved.get("first") == log.first
                  and saved.get("end", 0) <= log.size
                  and self._same_line_ends_there(stream, saved))
        scanner = _Scanner(saved["scan"] if usable else None)
        before = scanner.end
        scanner.feed(stream, before, self.until)
        self.bytes_read += scanner.end - before
        if scanner.end < log.size - log.partial_tail:
            self.incomplete = True
        scanner.finish(log)
        self.data[log.name] = {"id": list(identity), "first": log.first,
                               "end": scanner.end, "scan": scanner.saved()}

    @staticmethod
    def _same_line_ends_there(stream, saved: dict) -> bool:
        """Does the line the cache read last still end where it did (no rewrite)?"""
        scan = saved.get("scan") or {}
        end = saved.get("end", 0)
        if not end:
            return True
        line, after = _last_complete_line(stream, end)
        return after == 0 and _line_id(line) == scan.get("previous")

    def unread_bytes(self, data_path: str, names: list[str]) -> int:
        """How much of these changelogs a thorough reading through this cache would read."""
        total = 0
        for name in names:
            try:
                stat = os.stat(os.path.join(data_path, name))
            except OSError:
                continue
            saved = self._entry(name, (stat.st_dev, stat.st_ino))
            total += max(0, stat.st_size - (saved.get("end", 0) if saved else 0))
        return total

    def _entry(self, name: str, identity: tuple[int, int]) -> dict | None:
        """What the cache holds of `name`, if it was read from this very file."""
        saved = self.data.get(name)
        if isinstance(saved, dict) and saved.get("id") == list(identity) and \
                isinstance(saved.get("scan"), dict):
            return saved
        return None

    def pruned(self) -> dict:
        """The cache without files no longer there."""
        return {name: entry for name, entry in self.data.items() if name in self.seen}


def find_line(path: str, change_id: int) -> bytes | None:
    """The complete line of change `change_id` in a changelog (None when absent). The
    last line is looked at first: a master's current change is there."""
    try:
        with _open_for_reading(path) as stream:
            last, _ = _last_complete_line(stream, os.fstat(stream.fileno()).st_size)
            if _line_id(last) == change_id:
                return last + b"\n"
            stream.seek(0)
            for line in stream:
                if line.endswith(b"\n") and _line_id(line) == change_id:
                    return line
    except OSError:
        pass
    return None
