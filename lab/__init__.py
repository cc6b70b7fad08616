"""The namespace lab: a real corosync + Pacemaker cluster of Linux namespaces on one
machine, running ocf:mfsha:mfsmaster with MooseFS and a FUSE client. `make demo` runs it
(python3 -m lab); the cluster tests (tests/cluster/) and bench/failover.py use it."""
