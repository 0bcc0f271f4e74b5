"""qbsync poster service: the only service that writes to QuickBooks Online."""
