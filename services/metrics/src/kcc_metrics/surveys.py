"""Satisfaction surveys: an answer accepted over HTTP becomes a `SurveyAnswered` event
(acks=all), which the service's own consumer records like any other fact."""

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, Field

from kcc_shared.contracts import SURVEY_ANSWERED, SurveyAnswered, SurveyAnsweredData, derived_id
from kcc_shared.kafka import EventPublisher


class SurveyAnswerIn(BaseModel):
    model_config = {"extra": "forbid"}

    contact_id: str = Field(min_length=1, max_length=200, description="The contact being rated")
    score: int = Field(ge=1, le=10, description="Rapportcijfer, a whole number from 1 to 10")
    answered_at: AwareDatetime | None = Field(default=None, description="Default: now")
    comment: str | None = Field(default=None, max_length=2000)


class SurveyAccepted(BaseModel):
    event_id: str
    contact_id: str
    score: int


class Surveys:
    def __init__(self, *, publisher: EventPublisher, source: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._publisher, self._source, self._clock = publisher, source, clock

    async def answer(self, answer: SurveyAnswerIn) -> SurveyAccepted:
        """Publish the answer; one score per contact (the event id is the contact's, so a second answer is a duplicate)."""
        data = SurveyAnsweredData(
            contact_id=answer.contact_id, score=answer.score, answered_at=answer.answered_at or self._clock(), comment=answer.comment
        )
        event = SurveyAnswered.create(
            data=data, source=self._source, subject=answer.contact_id, event_id=derived_id(answer.contact_id, "survey")
        )
        await self._publisher.publish(event, topic=SURVEY_ANSWERED)
        return SurveyAccepted(event_id=event.id, contact_id=answer.contact_id, score=answer.score)
