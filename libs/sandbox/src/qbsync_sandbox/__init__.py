"""qbsync QuickBooks Online sandbox emulator: v3 Accounting API, OAuth2, limits, faults."""
