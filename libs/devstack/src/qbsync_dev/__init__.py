"""qbsync command line and embedded development stack."""
