"""Intake's web channel with a hand-written fake store and publisher."""

import httpx
import pytest

from kcc_intake.app import create_app
from kcc_intake.models import WebFormSubmission
from kcc_intake.service import IntakeService
from kcc_intake.settings import IntakeSettings


class FakeRepository:
    def __init__(self) -> None:
        self.by_key: dict[str, dict] = {}

    async def insert(self, contact):
        if contact["dedup_key"] in self.by_key:
            return self.by_key[contact["dedup_key"]]
        self.by_key[contact["dedup_key"]] = {**contact, "published": False}
        return None

    async def mark_published(self, contact_id):
        for stored in self.by_key.values():
            if stored["_id"] == contact_id:
                stored["published"] = True

    async def get(self, contact_id):
        return next((c for c in self.by_key.values() if c["_id"] == contact_id), None)


class FakePublisher:
    def __init__(self, fail_times: int = 0) -> None:
        self.published, self.fail_times = [], fail_times

    async def publish(self, event, *, topic):
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("broker down")
        self.published.append((topic.name, event))


def submission(**overrides) -> WebFormSubmission:
    fields = {"form_id": "contactformulier", "subject": "Kapvergunning", "message": "Mag ik mijn boom kappen?"}
    return WebFormSubmission(**{**fields, **overrides})


async def test_a_web_form_becomes_one_contact_received_event():
    publisher = FakePublisher()
    intake = IntakeService(repository=FakeRepository(), publisher=publisher, source="/kcc/intake")
    accepted = await intake.accept_web_form(submission(email="Piet@Voorbeeld.NL", phone="06-12345678"))
    [(topic, event)] = publisher.published
    assert topic == "kcc.contact.received.v1"
    assert event.id == accepted.event_id and event.subject == accepted.contact_id
    assert event.data.channel == "web"
    assert event.data.subject == "Kapvergunning"
    assert event.data.citizen.email == "piet@voorbeeld.nl"
    assert event.data.citizen.phone == "+31612345678"
    assert (await intake.get_contact(accepted.contact_id)).text == "Mag ik mijn boom kappen?"


async def test_the_same_submission_id_twice_is_one_contact_and_one_event():
    publisher = FakePublisher()
    intake = IntakeService(repository=FakeRepository(), publisher=publisher, source="/kcc/intake")
    first = await intake.accept_web_form(submission(submission_id="f-1"))
    second = await intake.accept_web_form(submission(submission_id="f-1"))
    assert (second.contact_id, second.event_id, second.duplicate) == (first.contact_id, first.event_id, True)
    assert len(publisher.published) == 1


async def test_a_retry_after_a_failed_publish_publishes_the_stored_event():
    publisher = FakePublisher(fail_times=1)
    intake = IntakeService(repository=FakeRepository(), publisher=publisher, source="/kcc/intake")
    with pytest.raises(ConnectionError):
        await intake.accept_web_form(submission(submission_id="f-2"))
    retried = await intake.accept_web_form(submission(submission_id="f-2"))
    [(_, event)] = publisher.published
    assert retried.duplicate and event.id == retried.event_id


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"subject": "x", "message": "y"}, "form_id", "missing"),
        ({"form_id": "f", "subject": "", "message": "y"}, "subject", "string_too_short"),
        ({"form_id": "f", "subject": "x", "message": "y", "phone": "06-1234"}, "phone", "value_error"),
        ({"form_id": "f", "subject": "x", "message": "y", "email": "geen-adres"}, "email", "string_pattern_mismatch"),
        ({"form_id": "f", "subject": "x", "message": "y", "colour": "red"}, "colour", "extra_forbidden"),
    ],
)
async def test_bad_web_forms_get_a_422_naming_the_field(body, field, reason):
    app = create_app(IntakeSettings())  # no lifespan: validation answers before any I/O
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/v1/channels/web/submissions", json=body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][-1] == field and error["type"] == reason
