"""The Pacemaker front-end: the agent ocf:mfsha:mfsmaster (OCF actions mapped onto the
failover core) and the operator command mfsha."""
