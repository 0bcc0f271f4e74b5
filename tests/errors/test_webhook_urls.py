"""Webhook URLs may not point into the operator's network in production (ERR-5 notices).

A tenant's API key can register a webhook; the errors service then makes the calls.
Loopback, private and link-local addresses are refused with QBSYNC_ENVIRONMENT=production
unless the operator allows them, and allowed elsewhere (the dev stack and the tests
deliver to 127.0.0.1).
"""

from typing import Any

import pytest
from fastapi import HTTPException
from qbsync_errors.http import _check_webhook_url
from qbsync_errors.settings import ErrorsSettings

REQUIRED: dict[str, Any] = {
    "kafka_bootstrap_servers": "127.0.0.1:9092",
    "database_url": "postgresql://x@h/db",
}


def settings(**values: Any) -> ErrorsSettings:
    """Settings as a service builds them: these values over the environment's."""
    return ErrorsSettings(**REQUIRED, **values)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QBSYNC_ENVIRONMENT", "QBSYNC_ERRORS_WEBHOOK_ALLOW_PRIVATE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("environment", "explicit", "allowed"),
    [
        ("production", None, False),
        ("development", None, True),
        ("production", True, True),
        ("development", False, False),
    ],
)
def test_private_webhooks_are_refused_by_default_only_in_production(
    environment: str, explicit: bool | None, allowed: bool
) -> None:
    chosen = settings(environment=environment, webhook_allow_private=explicit)
    assert chosen.private_webhooks_allowed is allowed


def test_the_environment_variables_choose_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBSYNC_ENVIRONMENT", "production")
    assert settings().private_webhooks_allowed is False
    monkeypatch.setenv("QBSYNC_ERRORS_WEBHOOK_ALLOW_PRIVATE", "true")
    assert settings().private_webhooks_allowed is True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ],
)
def test_addresses_inside_the_network_are_refused_when_not_allowed(url: str) -> None:
    with pytest.raises(HTTPException) as refused:
        _check_webhook_url(url, allow_private=False)
    assert refused.value.status_code == 422
    _check_webhook_url(url, allow_private=True)  # the dev stack's own receivers


def test_public_addresses_and_names_pass() -> None:
    for url in ("https://hooks.example.com/qbsync", "https://93.184.215.14/hook"):
        _check_webhook_url(url, allow_private=False)
