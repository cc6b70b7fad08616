#!/usr/bin/python3
"""Test-only, file-backed stand-in for crm_attribute, crm_master, attrd_updater and crm_node.

Invoked through symlinks named after the real tools. State lives in
$FAKE_CLUSTER_DIR/state.json; the local node is OCF_RESKEY_CRM_meta_on_node; the
partition is $FAKE_PARTITION (space-separated), else every node known to the state.
Every call is appended to $FAKE_CLUSTER_DIR/calls.log so tests can assert on them.
$FAKE_FAIL and $FAKE_HANG (comma-separated) make every call whose command line
contains one of their words fail as an unreachable CIB does, or hang for a minute.
"""
import fcntl
import json
import os
import sys

STATE_DIR = os.environ["FAKE_CLUSTER_DIR"]
STATE = os.path.join(STATE_DIR, "state.json")


def options(argv):
    found, flags = {}, set()
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            key, _, value = arg[2:].partition("=")
            found[key] = value
        elif arg.startswith("-"):
            flags.add(arg.lstrip("-"))
    return found, flags


def attrd_xml(name, found):
    """What attrd_updater --query --output-as=xml prints (Pacemaker 2.1.5)."""
    from xml.sax.saxutils import quoteattr
    lines = ['<pacemaker-result api-version="2.25" request="attrd_updater --query">']
    lines += ['  <attribute name=%s value=%s host=%s/>' % (quoteattr(name), quoteattr(value),
                                                         quoteattr(host))
              for host, value in found]
    lines += ['  <status code="0" message="OK"/>', '</pacemaker-result>']
    return "\n".join(lines)


def main():
    tool = os.path.basename(sys.argv[0])
    me = os.environ.get("FAKE_NODE") or os.environ.get("OCF_RESKEY_CRM_meta_on_node", "")
    with open(os.path.join(STATE_DIR, "calls.log"), "a") as log:
        log.write("%s %s %s\n" % (me, tool, " ".join(sys.argv[1:])))
    command = "%s %s" % (tool, " ".join(sys.argv[1:]))
    if any(word and word in command for word in os.environ.get("FAKE_HANG", "").split(",")):
        import time
        time.sleep(60)
    if os.environ.get("FAKE_CLUSTER_DOWN") or any(
            word and word in command for word in os.environ.get("FAKE_FAIL", "").split(",")):
        sys.stderr.write("Could not connect to the CIB: Transport endpoint is not connected\n")
        return 102
    lock = open(os.path.join(STATE_DIR, "lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        state = json.load(open(STATE)) if os.path.exists(STATE) else {"nodes": []}
    except ValueError:
        state = {"nodes": []}
    if me and me not in state["nodes"]:
        state["nodes"].append(me)
    opts, flags = options(sys.argv[1:])
    node = opts.get("node") or me
    rc = 0
    if tool == "crm_node":
        partition = os.environ.get("FAKE_PARTITION")
        print(partition if partition is not None else " ".join(state["nodes"]))
    elif tool in ("crm_attribute", "crm_master", "attrd_updater"):
        if tool == "attrd_updater":
            key = "attr:%s:" % opts.get("name")
        elif tool == "crm_master" or "promotion" in opts:
            key = "promotion:%s:" % (opts.get("promotion") or os.environ.get(
                "OCF_RESOURCE_INSTANCE", "").split(":")[0])
        elif opts.get("type") == "crm_config":
            key, node = "config:%s" % opts.get("name"), ""
        else:
            key = "node:%s:" % opts.get("name")
        if "update" in opts:
            state[key + node] = opts["update"]
        elif "delete" in flags:
            state.pop(key + node, None)
        elif "query" in flags:
            if tool == "attrd_updater":
                # Like the real attrd_updater 2.1.5: OCF_RESKEY_CRM_meta_on_node
                # restricts even an --all query to that node.
                pinned = os.environ.get("OCF_RESKEY_CRM_meta_on_node")
                hosts = state["nodes"] if "all" in flags and not pinned else [node]
                found = [(host, state[key + host]) for host in hosts if key + host in state]
                if opts.get("output-as") == "xml":
                    print(attrd_xml(opts.get("name"), found))
                else:
                    for host, value in found:
                        print('name="%s" host="%s" value="%s"' % (opts.get("name"), host, value))
            elif key + node in state:
                print(state[key + node])
            else:
                rc = 105
    json.dump(state, open(STATE + ".tmp", "w"))
    os.replace(STATE + ".tmp", STATE)
    return rc


if __name__ == "__main__":
    sys.exit(main())
