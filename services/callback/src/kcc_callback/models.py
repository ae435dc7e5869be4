from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kcc_shared.contracts import TimeWindow


class Callback(BaseModel):
    """A call-back promise; maps onto a VNG Klantinteracties *interne taak*."""

    callback_id: str
    contact_id: str
    department_id: str
    status: Literal["requested", "scheduled", "completed", "failed", "cancelled"]
    gevraagde_handeling: Literal["Terugbellen"] = "Terugbellen"
    upl_uri: str | None = None
    reason: str | None = Field(default=None, description="interne taak toelichting")
    preferred_windows: list[TimeWindow] = Field(default_factory=list)
    requested_at: datetime
    norm_working_days: int
