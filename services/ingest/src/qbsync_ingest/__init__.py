"""qbsync ingest service: intake over Kafka and HTTP, validation, dedupe."""
