"""How fresh a node's metadata is, and the high-water mark: the highest version the
cluster knows a master reached. One type serves both.

Text form: 'VERSION:METADATA_ID' (hex id; 0: not known yet), and for the mark
':NODE:FINGERPRINT' after it: the master that reached the version, and the fingerprint
of its last change (moosefs.inspect.change_fingerprint; may be empty). A mark written
before nodes were recorded names no node."""
from __future__ import annotations

# Versions within this many changes of each other count as the same at monitor time:
# they rank equally (metaloggers streaming one master, a second or less apart, must not
# make scores flap), a node republishes its freshness only when it moved further, and
# a master raises the mark while its standbys keep up only by more. An idle MooseFS 4
# master logs an IDLE() change every 30 s; each would otherwise be a cluster write.
# Promote, demote and stop compare exact versions.
CHANGE_TOLERANCE = 100


class Freshness:
    def __init__(self, version: int, metaid: int, node: str = "", fingerprint: str = "") -> None:
        self.version = version
        self.metaid = metaid
        self.node = node
        self.fingerprint = fingerprint

    @classmethod
    def parse(cls, text: str | None) -> "Freshness | None":
        fields = (text or "").split(":")
        if len(fields) < 2:
            return None
        try:
            return cls(int(fields[0]), int(fields[1], 16), *fields[2:4])
        except (ValueError, TypeError):
            return None

    def text(self) -> str:
        core = "%d:%016X" % (self.version, self.metaid)
        return core + (":%s:%s" % (self.node, self.fingerprint) if self.node else "")

    def known(self, me: str):
        """The cluster's knowledge for moosefs.history, as node `me` sees it."""
        from moosefs.history import Known
        return Known(self.version, self.node == me, self.fingerprint)

    def same_filesystem(self, other: "Freshness") -> bool:
        """Unknown ids (0) say nothing: only two known, different ids differ."""
        return not self.metaid or not other.metaid or self.metaid == other.metaid

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Freshness) and self.text() == other.text()

    def __repr__(self) -> str:
        return "Freshness(%s)" % self.text()


NOTHING = Freshness(0, 0)


def reached(me: str, data_path: str, version: int, metaid: int) -> Freshness:
    """The mark of node `me`'s own master at `version`, with the fingerprint of its last
    change in `data_path`, so that a branch elsewhere is told apart (moosefs.history)."""
    from moosefs.inspect import change_fingerprint
    return Freshness(version, metaid, me, change_fingerprint(data_path, version))


def raises(current: Freshness | None, reached: Freshness) -> bool:
    """The one rule for raising a mark outside a promotion: `reached` replaces `current`
    when it is higher, or names the file system `current` left unknown; never across
    two different file systems (a version of another file system says nothing of this
    one's history). A promotion writes its mark whatever the mark was: the election
    checked it first."""
    if current is None:
        return True
    if not current.same_filesystem(reached):
        return False
    return reached.version > current.version or (reached.metaid != 0 and current.metaid == 0)


def moved(before: Freshness | None, now: Freshness) -> bool:
    """Has a version moved by more than CHANGE_TOLERANCE (or to another file system)?"""
    if before is None or before.metaid != now.metaid or (before.version == 0) != (now.version == 0):
        return True
    return abs(now.version - before.version) > CHANGE_TOLERANCE


def parse_all(texts: dict[str, str]) -> dict[str, Freshness]:
    """{node: Freshness} from {node: 'version:id'}, dropping what does not parse."""
    parsed = {node: Freshness.parse(text) for node, text in texts.items()}
    return {node: value for node, value in parsed.items() if value is not None}
