"""Static checks (mypy) of the QBO client's public signatures; also run by pytest."""

from typing import assert_type

import httpx
from qbsync_qbo import (
    BatchItemResult,
    BatchOp,
    QboClient,
    QboEntity,
    QueryPage,
    StaticToken,
    WriteOp,
    WriteResult,
    select,
)


async def _calls(client: QboClient) -> None:
    assert_type(await client.create("Invoice", {}, "r-1"), QboEntity)
    assert_type(await client.read("Invoice", "1"), QboEntity)
    assert_type(await client.update("Invoice", {"Id": "1", "SyncToken": "0"}, "r-2"), QboEntity)
    assert_type(await client.void("Invoice", "1", "0", "r-3"), QboEntity)
    assert_type(await client.delete("Invoice", "1", "0", "r-4"), QboEntity)
    assert_type(await client.query(select("Customer")), QueryPage)
    assert_type(await client.query_all(select("Customer")), list[QboEntity])
    assert_type(await client.count("Invoice"), int)
    batch = [BatchOp(bid="b1", entity_type="Invoice", operation="create", body={})]
    assert_type(await client.batch(batch, "r-5"), list[BatchItemResult])
    ops = [WriteOp("create", "Invoice", {}, "r-6")]
    assert_type(await client.write_many(ops), list[WriteResult])
    entity = await client.read("Invoice", "1")
    assert_type(entity.id, str)
    assert_type(entity.sync_token, str | None)


def test_client_constructs_with_injected_http() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    client = QboClient("https://qbo.test", "1", StaticToken("t"), http)
    assert_type(client, QboClient)
    assert callable(_calls)
