"""qbsync async QuickBooks Online client (OAuth2, per-realm limiter, retries, batch)."""
