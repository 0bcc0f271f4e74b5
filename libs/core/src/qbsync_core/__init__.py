"""qbsync shared runtime used by every service."""
