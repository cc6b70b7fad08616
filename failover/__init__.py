"""The failover rules both front-ends follow (mfsha: Pacemaker, ucarp: ucarp hooks):
the high-water mark (mark), the election (election), the promote and step-down steps
(steps), the client hold (hold) and the detached helper (detach). It knows MooseFS
(the moosefs package) and nothing of the cluster manager that calls it."""
