"""qbsync mapper service: tenant settings and mapping of events to QBO posting commands."""
