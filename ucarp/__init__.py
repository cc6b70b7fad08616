"""mfsha-ucarp: ucarp's up and down hooks on the moosefs package's safe restore, for
sites without corosync and Pacemaker (see docs/guide.md). Knows nothing
of Pacemaker: `settings` reads the hook config, `freshness` answers and asks how fresh
each node's metadata is, `hooks` runs the up and down hooks, `cli` is the command."""
