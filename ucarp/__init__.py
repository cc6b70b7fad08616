"""mfsha-ucarp: the ucarp front-end of the failover core, for sites without corosync
and Pacemaker (see docs/guide.md). `settings` reads the hook config, `freshness`
answers and asks how fresh each node's metadata is and keeps the local high-water
mark, `hooks` runs the up and down hooks, `cli` is the command."""
