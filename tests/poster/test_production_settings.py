"""A production poster refuses to start on the development fallbacks (deploy/README.md).

Outside production the poster derives a token key and uses the emulator's OAuth client,
so the dev stack needs no secrets; in production those would encrypt tokens with a
guessable key, or send every tenant to Intuit with a client Intuit does not know.
"""

from typing import Any

import pytest
from qbsync_poster.app import create_app
from qbsync_poster.settings import PosterSettings, production_problems

BASE: dict[str, Any] = {
    "kafka_bootstrap_servers": "127.0.0.1:9092",
    "database_url": "postgresql://x@h/db",
}
OWN = {
    "token_keys": "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0=",
    "oauth_client_id": "ABcd1234",
    "oauth_client_secret": "s3cret",
}


def settings(**values: Any) -> PosterSettings:
    return PosterSettings(**BASE, **values)


def test_production_names_every_missing_setting() -> None:
    problems = production_problems(settings(environment="production"))
    assert [p.split()[0] for p in problems] == [
        "QBSYNC_POSTER_TOKEN_KEYS",
        "QBSYNC_POSTER_OAUTH_CLIENT_ID",
        "QBSYNC_POSTER_OAUTH_CLIENT_SECRET",
    ]
    with pytest.raises(ValueError, match="OAUTH_CLIENT_SECRET"):
        create_app(settings(environment="production"))


def test_production_with_its_own_secrets_starts_and_development_needs_none() -> None:
    assert production_problems(settings(environment="production", **OWN)) == []
    assert production_problems(settings(environment="development")) == []
    create_app(settings(environment="production", **OWN))  # builds, no I/O before lifespan
