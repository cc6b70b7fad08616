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

INFO = AgentInfo(
    name="mfsmaster", version="0.1.0", log_tag=LOG_TAG,
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
        Action("meta-data", 5), Action("validate-all", 30),
    ])
