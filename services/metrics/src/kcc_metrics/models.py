from datetime import date

from pydantic import BaseModel, Field


class DailyCounts(BaseModel):
    """Contacts counted on one local day (Europe/Amsterdam)."""

    day: date
    received: dict[str, int] = Field(description="Contacts received per channel")
    routed: dict[str, int] = Field(description="Routing decisions per decision kind")
