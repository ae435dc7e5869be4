"""kcc.survey.answered.v1: satisfaction survey answers (klanttevredenheid)."""

from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract


class SurveyAnsweredData(Contract):
    contact_id: str = Field(description="The contact the citizen rated")
    score: int = Field(ge=1, le=10, description="Rapportcijfer: 1 (very bad) to 10 (excellent)")
    answered_at: AwareDatetime
    comment: str | None = Field(default=None, max_length=2000, description="Free text; may hold personal data")


class SurveyAnswered(CloudEvent):
    """A citizen rated a contact with a rapportcijfer."""

    type: Literal["nl.contactstad.survey.answered"] = "nl.contactstad.survey.answered"
    data: SurveyAnsweredData
