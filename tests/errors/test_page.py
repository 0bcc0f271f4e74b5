"""The operator page in headless Chromium: filter by category, resync, see the status change."""

import pytest
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import Stage

from tests.errors.conftest import Errors, make_record
from tests.errors.webdriver import chromium

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


class TestOperatorPage:
    async def test_filter_by_category_then_resync_one_error_err6_err3(
        self, errors: Errors, errors_url: str, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        mapping = make_record(tenant, category=ErrorCategory.MAPPING)
        invoice = make_record(tenant, stage=Stage.POSTER, category=ErrorCategory.INVOICE)
        await errors.publish(mapping, invoice)
        await errors.wait_error(key, mapping.record_id)
        await errors.wait_error(key, invoice.record_id)

        async with chromium() as browser:
            await browser.get(f"{errors_url}/ui")
            assert (await browser.url()).endswith("/ui/login")
            await browser.type("#token", key)
            await browser.submit("#sign-in")
            assert await browser.text("#open-total") == "2"
            assert sorted(await browser.texts("#errors td.category")) == ["Invoice", "Mapping"]

            await browser.click("#category option[value=Mapping]")
            await browser.submit("#apply")
            assert "category=Mapping" in await browser.url()
            assert await browser.texts("#errors td.category") == ["Mapping"]

            await browser.submit(f"tr[data-record-id='{mapping.record_id}'] a")
            assert await browser.text("#status") == "open"
            assert await browser.text("#trace-id") == mapping.trace_id
            assert mapping.payload.decode() in await browser.text("#payload")

            await browser.submit("#resync")
            assert await browser.text("#status") == "resolved"
            assert "Resynced" in await browser.text("#flash")
            assert "resync by" in await browser.text("#history")

        replays = await errors.accepted.wait_for(lambda r: r.key == tenant.encode(), 1)
        assert [r.value for r in replays] == [mapping.payload]
