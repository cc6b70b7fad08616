"""The agent ocf:mfsha:mfsmaster: OCF actions mapped onto the moosefs package."""
