"""The published JSON Schema of contract v1 is generated from the models and kept current."""

import json
from pathlib import Path

from qbsync_contracts import EventType
from qbsync_contracts.events import event_json_schema
from qbsync_dev.cli import app
from typer.testing import CliRunner

PUBLISHED = Path(__file__).parents[2] / "docs" / "schema" / "event-v1.schema.json"


class TestSchemaExport:
    def test_published_schema_matches_the_models(self) -> None:
        expected = json.dumps(event_json_schema(), indent=2, sort_keys=True) + "\n"
        assert PUBLISHED.read_text() == expected, (
            "run: qbsync schema export --out docs/schema/event-v1.schema.json"
        )

    def test_schema_discriminates_every_event_type(self) -> None:
        schema = event_json_schema()
        mapping = schema["discriminator"]["mapping"]  # type: ignore[index]
        assert set(mapping) == {t.value for t in EventType}

    def test_cli_prints_the_schema(self) -> None:
        result = CliRunner().invoke(app, ["schema", "export"])
        assert result.exit_code == 0
        assert json.loads(result.output)["title"] == "qbsync event v1"
