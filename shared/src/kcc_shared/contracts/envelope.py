"""The CloudEvents 1.0 envelope every event travels in (structured JSON mode).

Trace context does not live here: it travels as W3C `traceparent`/`tracestate` Kafka headers,
injected and extracted by the broker's OpenTelemetry middleware.
"""

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# Namespace for ids derived from another event's id: a redelivered input yields the very same
# output id, so consumers downstream de-duplicate it.
_DERIVED_NS = uuid.UUID("5a0c8f0e-3b6e-4d55-9b1a-6b6f6e746163")

CONTENT_TYPE = "application/cloudevents+json"


class Contract(BaseModel):
    """Frozen data; unknown fields from newer producers are ignored, not rejected."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class CloudEvent(Contract):
    """CloudEvents attributes plus `data`; subclasses pin `type` to a literal."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, description="Unique per event; consumers de-duplicate on it")
    source: str = Field(min_length=1, description="URI reference of the producing service")
    type: str
    subject: str | None = Field(default=None, description="The contact or call-back it is about")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: Any

    event_type: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        default = cls.model_fields["type"].default
        if isinstance(default, str):
            cls.event_type = default

    @classmethod
    def create(
        cls,
        *,
        data: Any,
        source: str,
        subject: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> Self:
        """A new event with a fresh id (or the given one) and the current time."""
        return cls(
            id=event_id or str(uuid.uuid4()),
            source=source,
            subject=subject,
            time=time or datetime.now(UTC),
            data=data,
        )


def derived_id(origin_event_id: str, purpose: str) -> str:
    """A deterministic event id for what one input event causes (same input, same id)."""
    return str(uuid.uuid5(_DERIVED_NS, f"{origin_event_id}/{purpose}"))
