"""Typed results of the QBO client.

QBO entities stay generic dicts (the poster builds and reads their fields), wrapped in
`QboEntity` so the identity fields every write needs (`Id`, `SyncToken`) are typed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FaultError(BaseModel):
    """One `Error` entry of a QBO Fault."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="QBO error code, e.g. '6240' (leading zeros stripped).")
    element: str | None = Field(default=None, description="The field the error is about.")
    message: str = Field(default="", description="Short message, e.g. 'Duplicate Name Exists'.")
    detail: str = Field(default="", description="Long explanation from QBO.")


class Fault(BaseModel):
    """A parsed QBO Fault (JSON `Fault`, gateway `fault` or the XML throttle fault)."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(default="", description="ValidationFault, AuthenticationFault, SERVICE…")
    errors: tuple[FaultError, ...] = Field(default=(), description="The Error entries.")

    @property
    def codes(self) -> tuple[str, ...]:
        """Codes of all errors, in order."""
        return tuple(e.code for e in self.errors)


class QboEntity(BaseModel):
    """A QBO entity as returned by the API.

    `data` is the full JSON object; `id`, `sync_token` and `status` are lifted out of it.
    """

    model_config = ConfigDict(frozen=True)

    entity_type: str = Field(description="QBO entity name, e.g. 'Invoice'.")
    data: dict[str, Any] = Field(description="The entity's JSON object as QBO returned it.")

    @classmethod
    def of(cls, entity_type: str, data: dict[str, Any]) -> QboEntity:
        """Wrap one JSON object of type `entity_type`.

        Not validated: both arguments come typed from parsed JSON, and this runs for
        every entity of every answer (a few % of the poster's CPU when validated).
        """
        return cls.model_construct(entity_type=entity_type, data=data)

    @property
    def id(self) -> str:
        """The entity's `Id` (always present on entities QBO returns)."""
        return str(self.data["Id"])

    @property
    def sync_token(self) -> str | None:
        """The `SyncToken` to send with the next update, delete or void."""
        token = self.data.get("SyncToken")
        return None if token is None else str(token)

    @property
    def status(self) -> str | None:
        """`Deleted` or `Voided` when QBO says so, else None."""
        status = self.data.get("status")
        return None if status is None else str(status)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        """`dict.get` on the entity's JSON."""
        return self.data.get(key, default)


class QueryPage(BaseModel):
    """One page of a `SELECT` query."""

    model_config = ConfigDict(frozen=True)

    entity_type: str | None = Field(description="Entity queried; None when QBO sent no rows.")
    entities: list[QboEntity] = Field(default_factory=list)
    start_position: int | None = Field(default=None, description="1-based STARTPOSITION.")
    max_results: int | None = Field(default=None, description="Rows in this page.")
    total_count: int | None = Field(default=None, description="Set by COUNT(*) queries.")


BatchOperation = Literal["create", "update", "delete", "void"]


class BatchOp(BaseModel):
    """One item of a `/batch` request: a write, or a query when `query` is set."""

    model_config = ConfigDict(frozen=True)

    bid: str = Field(max_length=10, description="Batch item id (≤10 chars when requestid set).")
    entity_type: str = Field(default="", description="QBO entity name for writes.")
    operation: BatchOperation | None = Field(default=None)
    body: dict[str, Any] = Field(default_factory=dict)
    query: str | None = Field(default=None, description="A SELECT statement instead of a write.")


class BatchItemResult(BaseModel):
    """The outcome of one batch item: exactly one of entity, fault or query is set."""

    model_config = ConfigDict(frozen=True)

    bid: str
    entity: QboEntity | None = None
    fault: Fault | None = None
    query: QueryPage | None = None

    @property
    def ok(self) -> bool:
        """True when QBO did not answer this item with a Fault."""
        return self.fault is None


class TokenSet(BaseModel):
    """The OAuth2 tokens of one QBO connection (one realm)."""

    model_config = ConfigDict(frozen=True)

    realm_id: str
    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    expires_at: datetime = Field(description="When the access token expires (aware, UTC).")
    refresh_expires_at: datetime | None = Field(
        default=None, description="When the refresh token expires, if QBO said."
    )

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """True if the access token expires within `seconds` from `now`."""
        now = now or datetime.now(UTC)
        return self.expires_at - now <= timedelta(seconds=seconds)
