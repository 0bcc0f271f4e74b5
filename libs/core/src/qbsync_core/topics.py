"""Every Kafka topic qbsync uses, with its partition count, declared once.

All topics are keyed by tenant id, so one tenant's messages stay in order on one
partition. Partition counts bound how many consumers of a group can share the
work; 12 divides evenly over 1, 2, 3, 4 and 6 replicas.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name, partition count and purpose."""

    name: str
    partitions: int
    purpose: str


INBOUND = TopicSpec("qbsync.inbound.v1", 12, "upstream events as published (contract v1)")
ACCEPTED = TopicSpec("qbsync.accepted.v1", 12, "validated, deduplicated events for the mapper")
COMMANDS = TopicSpec("qbsync.commands.v1", 12, "QBO posting commands for the poster")
POSTED = TopicSpec("qbsync.posted.v1", 12, "one message per QBO write, plus back-sync")
ERRORS = TopicSpec("qbsync.errors.v1", 6, "every failure, for the errors service")

ALL_TOPICS: tuple[TopicSpec, ...] = (INBOUND, ACCEPTED, COMMANDS, POSTED, ERRORS)
