"""Reading the CIB and crm_mon's XML for one resource: generic Pacemaker knowledge
for operator commands (agents read attributes through ocf.attributes)."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from .codes import NO_SUCH
from .proc import Deadline, run

TOOL_SECONDS = 15
PROMOTED_ROLES = ("Promoted", "Master")
STABLE_ROLES = PROMOTED_ROLES + ("Unpromoted", "Slave")


class CibError(Exception):
    """A one-line reason (a tool failed, or the CIB lacks what was asked)."""


def tool(argv: list[str]) -> str:
    """stdout of a cluster tool; a failure is a CibError naming the tool."""
    result = run(argv, Deadline(TOOL_SECONDS, reserve=0))
    if not result.ok:
        raise CibError("no cluster running here? %s" % result.describe())
    return result.stdout


def parse(text: str):
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise CibError("unreadable XML from a cluster tool: %s" % error) from None


class ResourceView:
    """What the CIB and crm_mon say about one primitive of a given agent type
    (`provider`, `kind`), named or, when `name` is None, the only one there is."""

    def __init__(self, provider: str, kind: str, name: str | None) -> None:
        self.provider, self.kind = provider, kind
        self.cib = parse(tool(["cibadmin", "--query"]))
        self.resource = name or self._only_one()
        self.primitive = self._primitive(self.resource)
        self.params = {nv.get("name"): nv.get("value") for nv in self.primitive.iter("nvpair")}
        self.nodes = sorted(n.get("uname") for n in self.cib.iter("node") if n.get("uname"))
        self.status = parse(tool(["crm_mon", "--one-shot", "--inactive", "--output-as=xml"]))
        self.roles = self._roles()

    def _agent(self) -> str:
        return "ocf:%s:%s" % (self.provider, self.kind)

    def _only_one(self) -> str:
        found = [p.get("id") for p in self.cib.iter("primitive")
                 if p.get("type") == self.kind and p.get("provider") == self.provider]
        if len(found) != 1:
            raise CibError("%s %s resources in the CIB (%s): name one with --resource"
                           % (len(found) or "no", self._agent(), ", ".join(found) or "none"))
        return found[0]

    def _primitive(self, name: str):
        for primitive in self.cib.iter("primitive"):
            if primitive.get("id") == name:
                if (primitive.get("provider"), primitive.get("type")) != (self.provider,
                                                                            self.kind):
                    raise CibError("resource %s is not %s" % (name, self._agent()))
                return primitive
        raise CibError("no resource %s in the CIB" % name)

    def _roles(self) -> dict[str, str]:
        roles = {}
        for element in self.status.iter("resource"):
            if element.get("id", "").split(":")[0] == self.resource:
                for node in element.iter("node"):
                    roles[node.get("name")] = element.get("role", "")
        return roles

    def flag(self, name: str) -> bool:
        from .env import parse_bool
        try:
            return parse_bool(self.params.get(name) or "")
        except ValueError:
            return False

    def clone(self) -> str:
        """The promotable clone holding the primitive."""
        for clone in list(self.cib.iter("clone")) + list(self.cib.iter("master")):
            if any(p.get("id") == self.resource for p in clone.iter("primitive")):
                return clone.get("id")
        raise CibError("resource %s is not in a promotable clone" % self.resource)

    def quorate(self) -> bool:
        summary = self.status.find("summary/current_dc")
        return summary is not None and summary.get("with_quorum") == "true"

    def settled(self) -> bool:
        """Every node of the clone in a stable role, exactly one Promoted."""
        roles = list(self.roles.values())
        return sum(roles.count(r) for r in PROMOTED_ROLES) == 1 and all(
            r in STABLE_ROLES for r in roles)

    def promoted(self) -> str | None:
        found = [n for n, r in self.roles.items() if r in PROMOTED_ROLES]
        return found[0] if len(found) == 1 else None

    def colocated_address(self) -> str | None:
        """The address of an IPaddr2 resource colocated with the clone."""
        clone = self.clone()
        for colocation in self.cib.iter("rsc_colocation"):
            if colocation.get("with-rsc") == clone:
                for primitive in self.cib.iter("primitive"):
                    if primitive.get("id") == colocation.get("rsc") and \
                            primitive.get("type") == "IPaddr2":
                        for nvpair in primitive.iter("nvpair"):
                            if nvpair.get("name") == "ip":
                                return nvpair.get("value")
        return None

    def failures(self, node: str, operation: str) -> set[tuple[str, str]]:
        """(when, exit reason) of failed `operation`s of this resource on `node`."""
        return {(f.get("last-rc-change", ""), f.get("exitreason", "")) for f in
                self.status.iter("failure") if f.get("node") == node
                and f.get("op_key", "").startswith("%s_%s_" % (self.resource, operation))}


def cluster_option(name: str) -> str | None:
    """A cluster option (crm_config), e.g. a value an agent records there, as
    crm_attribute reads it; None when it is not set."""
    from .attributes import property_query_argv
    result = run(property_query_argv(name), Deadline(TOOL_SECONDS, reserve=0))
    if result.returncode == NO_SUCH and not result.timed_out:
        return None
    if not result.ok:
        raise CibError("no cluster running here? %s" % result.describe())
    return result.stdout.strip() or None


def location_ids() -> set[str]:
    """Ids of the location constraints in the CIB."""
    constraints = parse(tool(["cibadmin", "--query", "--scope", "constraints"]))
    return {element.get("id", "") for element in constraints.iter("rsc_location")}


def delete_location(constraint_id: str) -> None:
    tool(["cibadmin", "--delete", "--scope", "constraints", "--xml-text",
          '<rsc_location id="%s"/>' % constraint_id])
