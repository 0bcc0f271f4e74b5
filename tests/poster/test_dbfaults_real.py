"""A command whose data the database refuses ends as an error record; the consumer moves on.

Only transient database failures (connection lost, too many connections, serialization,
deadlock, shutdown) are retried; a data error retried forever would hold the partition.
"""

import base64
import json

import asyncpg
import pytest
from qbsync_poster.dbfaults import is_transient

from tests.poster.conftest import Poster
from tests.poster.helpers import customer_by_name, invoice, tenant_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


class TestDataErrors:
    async def test_a_nul_byte_becomes_an_error_in_the_commands_category_and_the_rest_posts(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Nul Byte Co")
        # PostgreSQL text cannot hold U+0000: the ledger look-up fails with 22021.
        bad = invoice(tenant, realm, "bad\x00ref", "5001", cust)
        good = invoice(tenant, realm, "ok-1", "5002", cust)
        outcomes = await poster.run([bad, good])

        error = outcomes[bad.command_id]
        assert error.kind == "error", error.record
        # The invoice's own category: Service would offer Delete, dropping the command.
        assert error.record["category"] == "Invoice"
        assert error.record["stage"] == "poster"
        assert "22021" in error.record["cause"]
        kept = json.loads(base64.b64decode(error.record["payload_b64"]))
        assert kept["command_id"] == bad.command_id  # the command, for a resync
        assert kept["upstream_ref"] == bad.upstream_ref
        assert outcomes[good.command_id].kind == "posted", outcomes[good.command_id].record

        # The partition was not held: a later command of the tenant posts.
        later = invoice(tenant, realm, "ok-2", "5003", cust)
        assert (await poster.run([later]))[later.command_id].kind == "posted"
        numbers = sorted(str(i["DocNumber"]) for i in (await poster.export(realm))["Invoice"])
        assert numbers == ["5002", "5003"]

    async def test_a_real_value_out_of_range_is_not_transient(self, database_url: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            with pytest.raises(asyncpg.PostgresError) as caught:
                await conn.execute("SELECT $1::int + 1", 2**31 - 1)
        finally:
            await conn.close()
        assert isinstance(caught.value, asyncpg.NumericValueOutOfRangeError)
        assert not is_transient(caught.value)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (asyncpg.ConnectionDoesNotExistError("lost"), True),
        (asyncpg.TooManyConnectionsError("too many"), True),
        (asyncpg.SerializationError("serialize"), True),
        (asyncpg.DeadlockDetectedError("deadlock"), True),
        (asyncpg.AdminShutdownError("shutdown"), True),
        (asyncpg.CannotConnectNowError("starting"), True),
        (asyncpg.InterfaceError("connection closed"), True),
        (asyncpg.NumericValueOutOfRangeError("range"), False),
        (asyncpg.CharacterNotInRepertoireError("nul"), False),
        (asyncpg.UniqueViolationError("dup"), False),
        (asyncpg.CheckViolationError("check"), False),
        (asyncpg.exceptions.DataError("cannot encode"), False),
    ],
)
def test_which_database_failures_are_retried(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient
