"""The page's forms without a browser: sign-in, refusals shown on the page, account actions."""

import pytest
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import Stage

from tests.errors.conftest import Errors, make_record

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def _sign_in(errors: Errors, key: str) -> dict[str, str]:
    response = await errors.http.post(
        "/ui/login",
        content=f"token={key}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 303
    errors.http.cookies.clear()  # the shared client must not carry one test's sign-in
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    return {"cookie": cookie.split(";")[0]}


class TestPageForms:
    async def test_a_wrong_key_does_not_sign_in(self, errors: Errors) -> None:
        response = await errors.http.post(
            "/ui/login",
            content="token=qbs_x_y",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 401
        assert "not valid" in response.text

    async def test_delete_of_a_non_service_error_shows_why_not(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant)
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        cookie = await _sign_in(errors, key)
        response = await errors.http.post(f"/ui/errors/{record.record_id}/delete", headers=cookie)
        assert response.status_code == 303
        page = await errors.http.get(response.headers["location"], headers=cookie)
        assert "only for Service errors" in page.text
        assert 'id="link"' not in page.text

    async def test_link_an_account_error_from_the_page(self, errors: Errors, tenant: str) -> None:
        key = await errors.key(tenant)
        record = make_record(
            tenant, stage=Stage.POSTER, category=ErrorCategory.ACCOUNT, customer_ref="customer:p"
        )
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        cookie = await _sign_in(errors, key)
        page = await errors.http.get(f"/ui/errors/{record.record_id}", headers=cookie)
        assert 'id="link"' in page.text
        response = await errors.http.post(
            f"/ui/errors/{record.record_id}/link",
            content="qbo_customer_id=77",
            headers={**cookie, "content-type": "application/x-www-form-urlencoded"},
        )
        page = await errors.http.get(response.headers["location"], headers=cookie)
        assert "Linked to QuickBooks customer 77" in page.text
        stored = await errors.wait_error(key, record.record_id)
        assert stored["resolution"] == "link_customer"

    async def test_another_tenants_error_is_not_found_on_the_page(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant)
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        cookie = await _sign_in(errors, await errors.key(f"{tenant}-b"))
        page = await errors.http.get(f"/ui/errors/{record.record_id}", headers=cookie)
        assert page.status_code == 404
        action = await errors.http.post(f"/ui/errors/{record.record_id}/resync", headers=cookie)
        assert action.status_code == 404
        assert (await errors.wait_error(key, record.record_id))["resyncs"] == 0
