"""qbsync errors service: the error store and the operator API."""
