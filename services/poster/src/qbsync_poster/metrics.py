"""The poster's own Prometheus metrics (beside FastStream's consumer metrics)."""

from prometheus_client import CollectorRegistry, Counter


def qbo_requests_counter(registry: CollectorRegistry) -> Counter:
    """`qbsync_poster_qbo_requests_total{status}`: every QBO HTTP request by its outcome.

    `status` is the HTTP status ("429" is throttling), or `timeout` / `error` when no
    answer came. deploy/grafana/qbsync.json charts it.
    """
    return Counter(
        "qbsync_poster_qbo_requests",
        "QBO HTTP requests by status (timeout, error: no answer).",
        ["status"],
        registry=registry,
    )
