"""Settings: one prefix, the design's override names, the dev env file, fail fast."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from qbsync_core.settings import QbsyncSettings, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "DATABASE_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "QBSYNC_KAFKA_BOOTSTRAP_SERVERS",
        "QBSYNC_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QBSYNC_HOME", str(tmp_path))
    return tmp_path


class TestQbsyncSettings:
    def test_missing_connection_settings_fail_naming_the_variables(self, clean_env: Path) -> None:
        with pytest.raises(ValidationError) as info:
            load_settings(QbsyncSettings)
        text = str(info.value)
        assert "KAFKA_BOOTSTRAP_SERVERS" in text
        assert "DATABASE_URL" in text

    def test_dev_env_file_written_by_the_stack_is_read(self, clean_env: Path) -> None:
        (clean_env / "dev.env").write_text(
            "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092\nDATABASE_URL=postgresql://p@127.0.0.1:15432/qbsync\n"
        )
        settings = load_settings(QbsyncSettings)
        assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"
        assert settings.database_url == "postgresql://p@127.0.0.1:15432/qbsync"

    def test_environment_overrides_the_dev_env_file(
        self, clean_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (clean_env / "dev.env").write_text(
            "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1\nDATABASE_URL=postgresql://a@b/c\n"
        )
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9092, kafka-1:9092")
        monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5432/qbsync")
        settings = load_settings(QbsyncSettings)
        assert settings.kafka_bootstrap_servers == "kafka-0:9092,kafka-1:9092"
        assert settings.database_url == "postgresql://u:p@db.internal:5432/qbsync"

    def test_prefixed_names_work_too(
        self, clean_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("QBSYNC_KAFKA_BOOTSTRAP_SERVERS", "k:1")
        monkeypatch.setenv("QBSYNC_DATABASE_URL", "postgresql://x@y/z")
        monkeypatch.setenv("QBSYNC_LOG_LEVEL", "DEBUG")
        settings = load_settings(QbsyncSettings)
        assert (settings.kafka_bootstrap_servers, settings.log_level) == ("k:1", "DEBUG")

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("DATABASE_URL", "mysql://x@y/z", "must be a postgresql:// URL"),
            ("KAFKA_BOOTSTRAP_SERVERS", "localhost", "host:port"),
        ],
    )
    def test_malformed_values_are_refused_with_the_rule(
        self, clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
    ) -> None:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k:1")
        monkeypatch.setenv("DATABASE_URL", "postgresql://x@y/z")
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match=message):
            load_settings(QbsyncSettings)
