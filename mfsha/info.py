"""What Pacemaker reads of ocf:mfsha:mfsmaster: its meta-data (parameters, actions and
their default timeouts), also the source of its man page (ocf.manpage)."""
from __future__ import annotations

from failover.hold import WITHOUT_CHUNKSERVERS_SECONDS
from ocf.metadata import Action, AgentInfo
from ocf.params import BOOLEAN, INTEGER, Parameter

LONGDESC = """\
Runs the MooseFS metadata server (mfsmaster) as a promotable clone.

In the Unpromoted role the node runs mfsmetalogger, which follows the master through
MASTER_HOST in mfsmetalogger.cfg (point it at the virtual IP). Its monitor publishes
the version this node's metadata restores to, so the freshest node is promoted.

Promote stops the metalogger, checks that no peer in the partition holds fresher
metadata and that this node is not below the last version the cluster knows a master
reached, sets aside into a compressed archive (never deletes) files from a history the
cluster has moved past, restores the metadata offline, verifies it and starts mfsmaster.
Demote stops mfsmaster cleanly and starts the metalogger again.

Use it in a promotable clone with notify=true, promoted-max=1 and clone-node-max=1,
colocate an ocf:heartbeat:IPaddr2 virtual IP with the Promoted role, start it after
promote and stop it after demote. Fencing (STONITH) and quorum are required: two
masters would assign the same change ids to different operations.
Both config files must use the same DATA_PATH.

Size the promote timeout to the metadata: a promote reads every changelog in DATA_PATH
(monitors keep a cache, so usually only the newest lines), then MooseFS loads the image
and replays the changelogs. Allow at least 60 s plus twice (changelog MiB / 50 + image
MiB / 200) seconds; 300 s covers about 6 GiB of changelogs. A promote that cannot finish
in its timeout refuses early, before changing anything, and says what to set.

The Promoted monitor asks mfsmaster for its chunkserver list and fails when no answer
comes within 5 s (a stopped or hung master keeps its lock and its sockets).
"""

# The agent's lines are tagged apart from mfsmaster's own (its default SYSLOG_IDENT is
# "mfsmaster"), so that an administrator can tell the two in syslog.
LOG_TAG = "mfsha-mfsmaster"

# The manual page's examples (ocf_mfsha_mfsmaster(7)): the tested examples' essentials;
# tests/packaging/test_manpages.py loads both into an empty CIB.
CRM_EXAMPLE = """\
primitive mfs ocf:mfsha:mfsmaster \\
    params master_cfg=/etc/mfs/mfsmaster.cfg metalogger_cfg=/etc/mfs/mfsmetalogger.cfg \\
    op monitor interval=3s role=Promoted timeout=30s \\
    op monitor interval=11s role=Unpromoted timeout=30s \\
    op promote timeout=300s interval=0s op demote timeout=120s interval=0s
clone mfs-clone mfs \\
    meta promotable=true notify=true promoted-max=1 promoted-node-max=1 \\
        clone-node-max=1 interleave=true
primitive mfs-vip IPaddr2 params ip=192.168.10.100 cidr_netmask=24 \\
    op monitor interval=10s timeout=20s
colocation mfs-vip-with-promoted inf: mfs-vip mfs-clone:Promoted
order mfs-promote-then-vip Mandatory: mfs-clone:promote mfs-vip:start symmetrical=false
order mfs-demote-then-stop-vip Mandatory: mfs-clone:demote mfs-vip:stop symmetrical=false
"""
PCS_EXAMPLE = """\
pcs resource create mfs ocf:mfsha:mfsmaster \\
    master_cfg=/etc/mfs/mfsmaster.cfg metalogger_cfg=/etc/mfs/mfsmetalogger.cfg \\
    op monitor interval=3s role=Promoted timeout=30s \\
       monitor interval=11s role=Unpromoted timeout=30s \\
       promote timeout=300s demote timeout=120s
pcs resource promotable mfs
pcs resource meta mfs-clone notify=true promoted-max=1 promoted-node-max=1 \\
    clone-node-max=1 interleave=true
pcs resource create mfs-vip ocf:heartbeat:IPaddr2 ip=192.168.10.100 cidr_netmask=24 \\
    op monitor interval=10s timeout=20s
pcs constraint colocation add mfs-vip with Promoted mfs-clone score=INFINITY
pcs constraint order promote mfs-clone then start mfs-vip symmetrical=false kind=Mandatory
pcs constraint order demote mfs-clone then stop mfs-vip symmetrical=false kind=Mandatory
"""
DOCS = "/usr/share/doc/resource-agents-mfsha"
MANUAL = [
    ("EXAMPLES", "With crmsh (\\fBcrm configure load update\\fR \\fIFILE\\fR):\n.PP\n.nf\n"
     "%s.fi\n.PP\nWith pcs 0.11 or 0.12:\n.PP\n.nf\n%s.fi\n.PP\nBoth as tested, with "
     "fencing, quorum and defaults: \\fI%s/examples/crm/mfsmaster.crm\\fR and "
     "\\fImfsmaster.pcs\\fR. Set the virtual IP, and point MASTER_HOST of metaloggers, "
     "chunkservers and clients at it." % (CRM_EXAMPLE.replace("\\", "\\e"),
                                         PCS_EXAMPLE.replace("\\", "\\e"), DOCS)),
    ("FILES", ".TP\n\\fI/etc/mfs/mfsmaster.cfg\\fR, \\fI/etc/mfs/mfsmetalogger.cfg\\fR\n"
     "MooseFS's configs (master_cfg, metalogger_cfg); both must name the same DATA_PATH.\n"
     ".TP\n\\fIDATA_PATH\\fR\\fB-archive/\\fR\n"
     "Files set aside before a restore (archive_dir), never deleted by a promote.\n"
     ".TP\n\\fI/run/resource-agents/mfsha-RESOURCE.state\\fR, \\fB.yield\\fR, "
     "\\fB.scans\\fR, \\fB.records\\fR\n"
     "Per-node state in HA_RSCTMP, cleared at reboot: what the last monitor published, a "
     "yield to a fresher peer, the changelog scan cache, and the promote records \\fBmfsha "
     "metrics\\fR reads.\n"
     ".TP\n\\fI%s/guide.md.gz\\fR\nThe administrator's guide.\n" % DOCS),
]

INFO = AgentInfo(
    name="mfsmaster", version="0.1.0", log_tag=LOG_TAG, manual=MANUAL,
    shortdesc="MooseFS metadata server (promotable, freshest node wins)",
    longdesc=LONGDESC,
    parameters=[
        Parameter("master_cfg", "mfsmaster configuration file",
                  "Path of mfsmaster.cfg. DATA_PATH, WORKING_USER, the ports and the other "
                  "settings are read from it.", default="/etc/mfs/mfsmaster.cfg",
                  unique=True),
        Parameter("metalogger_cfg", "mfsmetalogger configuration file",
                  "Path of mfsmetalogger.cfg. Its MASTER_HOST should be the virtual IP and "
                  "its DATA_PATH the same as the master's.",
                  default="/etc/mfs/mfsmetalogger.cfg", unique=True),
        Parameter("archive_dir", "Folder for set-aside files",
                  "Where files that must not take part in a restore are archived "
                  "(compressed). Empty: a folder next to DATA_PATH named DATA_PATH-archive.",
                  default=""),
        Parameter("archive_keep", "Archives to keep",
                  "How many archives to keep; the oldest beyond this are removed.",
                  type=INTEGER, default=20),
        Parameter("archive_max_mb", "Archive size limit (MiB)",
                  "Total size of archives to keep; the oldest beyond it are removed "
                  "(never the newest). 0 means no size limit.", type=INTEGER, default=10240),
        Parameter("allow_new_filesystem", "Create a new file system when none exists",
                  "If true, and no node of the cluster has any metadata and no high-water "
                  "mark was ever recorded, promote creates a brand-new empty MooseFS file "
                  "system. Use for the first start of a new cluster only.",
                  type=BOOLEAN, default=False),
        Parameter("fast_stop", "Stop mfsmaster without its 2-3 s wait",
                  "If true, demote and stop end mfsmaster's data-writer child right after "
                  "SIGTERM, so that the master stores its metadata and exits at once "
                  "instead of after about 3 s; a switchover is that much shorter. The next "
                  "master must reach the version stored, or its promote refuses. Set false "
                  "to let mfsmaster take its own time.", type=BOOLEAN, default=True),
        Parameter("client_hold", "Seconds clients may wait for the chunkservers after a promote",
                  "After a promote, mfsmaster lets clients in only once every chunkserver it "
                  "knows (apart from those in maintenance) has connected again: at most this "
                  "many seconds after the first one did (at most %d s after mfsmaster started "
                  "when none does). A client let in earlier waits 10 s for a chunk whose "
                  "copies are all on a chunkserver not yet back; a client refused meanwhile "
                  "tries again within 2 s. A chunkserver that is down holds clients for the "
                  "whole time. 0 lets clients in at once. Needs mfsmaster.cfg readable by "
                  "WORKING_USER, as mfsmaster reload does." % WITHOUT_CHUNKSERVERS_SECONDS,
                  type=INTEGER, default=3),
        Parameter("allow_data_loss", "Promote even when metadata is not the freshest",
                  "If true, promote proceeds even when a peer holds fresher metadata or this "
                  "node's metadata is below the cluster's high-water mark: the changes in "
                  "between are lost. Set it only to recover by hand, and unset it afterwards.",
                  type=BOOLEAN, default=False),
    ],
    actions=[
        Action("start", 60), Action("stop", 120), Action("promote", 300),
        Action("demote", 120), Action("notify", 30), Action("reload", 30),
        Action("monitor", 30, interval=3, role="Promoted"),
        Action("monitor", 30, interval=11, role="Unpromoted"),
        # OCF_CHECK_LEVEL=10: also validate-all's checks of the installation and configs
        Action("monitor", 60, interval=300, depth=10),
        Action("meta-data", 5), Action("validate-all", 30),
    ])
