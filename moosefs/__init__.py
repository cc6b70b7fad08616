"""MooseFS metadata-server knowledge, with nothing of Pacemaker in it.

  config      mfsmaster.cfg / mfsmetalogger.cfg with MooseFS's defaults
  files       metadata image headers and changelog heads/tails
  inspect     what a data directory restores to, and a verdict
  history     which files may take part in a restore (and which must be set aside)
  archive     moving files aside into compressed archives, with retention
  generation  which MooseFS generation is installed and how it restores
  restore     the safe restore procedure
  daemons     start, stop and status of mfsmaster and mfsmetalogger
  chunkservers the chunkservers a running master knows, and which are connected
  clienthold  a master started closed to clients, opened by a reload
"""
__version__ = "0.1.0"
