"""A small, typed helper library for OCF resource agents written in Python.

It speaks the OCF resource agent API 1.1 and Pacemaker's conventions and knows
nothing about any particular service. Modules:
  codes      return codes and OCFError
  env        the environment Pacemaker passes (action, timeouts, probe, clone meta)
  params     typed instance parameters
  metadata   meta-data XML (lxml, imported only for meta-data)
  dispatch   action dispatch and the per-invocation Context
  log        logging and exit reasons
  notify     the notification environment
  attributes promotion scores and node attributes
  proc       have_binary and subprocesses with deadlines
Importing `ocf` itself is deliberately cheap; import the submodules you need.
"""
__version__ = "0.1.0"
