"""Intake's channel mapping with hand-written fakes of the store and the outbox relay."""

from datetime import UTC, date, datetime

import httpx
import pytest

from kcc_intake import models as m
from kcc_intake.app import create_app
from kcc_intake.service import IntakeService, reference_for
from kcc_intake.settings import DEFAULT_NUMBER_MAP, IntakeSettings

from kcc_shared.contracts import TOPICS, Channel, CitizenIdentifiers
from kcc_shared.pseudonyms import Pseudonymiser

from .fakes import FakeCollection, FakeCommit, FakeRelay

P = Pseudonymiser("test-secret")
ADAPTERS = {spec.name: spec.adapter for spec in TOPICS if spec.events}


def service(relay: FakeRelay | None = None) -> tuple[IntakeService, FakeRelay]:
    relay = relay or FakeRelay()
    contacts = FakeCollection("dedup_key")
    intake = IntakeService(
        contacts=contacts, commit=FakeCommit(contacts, FakeCollection("_id"), relay), relay=relay, source="/kcc/intake",
        accept_wait_s=1.0, number_map=DEFAULT_NUMBER_MAP, timezone="Europe/Amsterdam",
        pseudonyms=Pseudonymiser("test-secret"),
    )
    return intake, relay


def queued(relay: FakeRelay) -> list[tuple[str, object]]:
    """(topic, event) for everything handed to the relay, in order."""
    return [(topic, ADAPTERS[topic].validate_json(fields["payload"])) for topic, fields in relay.queued.values()]


def fields_of(relay: FakeRelay) -> list[dict]:
    return [fields for _, fields in relay.queued.values()]


def form(**overrides) -> m.WebFormSubmission:
    fields = {"form_id": "contactformulier", "subject": "Kapvergunning", "message": "Mag ik mijn boom kappen?"}
    return m.WebFormSubmission(**{**fields, **overrides})


async def test_a_web_form_becomes_one_contact_received_event():
    intake, relay = service()
    accepted = await intake.web_form(form(email="Piet@Voorbeeld.NL", phone="06-12345678"), idempotency_key=None)
    [(topic, event)] = queued(relay)
    assert topic == "kcc.contact.received.v1"
    assert event.id == accepted.event_id and event.subject == accepted.contact_id
    assert (event.data.channel, event.data.subject) == ("web", "Kapvergunning")
    # The event names the citizen by pseudonyms; the values stay in intake's store.
    assert event.data.citizen.email == P.pseudonym("email", "piet@voorbeeld.nl")
    assert event.data.citizen.phone == P.pseudonym("phone", "+31612345678")
    assert "voorbeeld" not in fields_of(relay)[0]["payload"] and "612345678" not in fields_of(relay)[0]["payload"]
    assert accepted.reference == reference_for(accepted.contact_id) == event.data.reference
    assert accepted.published and not accepted.duplicate
    assert (await intake.get_contact(accepted.contact_id)).text == "Mag ik mijn boom kappen?"


async def test_the_same_submission_id_or_idempotency_key_twice_is_one_contact_and_one_event():
    intake, relay = service()
    first = await intake.web_form(form(submission_id="f-1"), idempotency_key=None)
    second = await intake.web_form(form(submission_id="f-1"), idempotency_key=None)
    assert (second.contact_id, second.event_id, second.duplicate) == (first.contact_id, first.event_id, True)
    third = await intake.web_form(form(), idempotency_key="k-9")
    fourth = await intake.web_form(form(message="anders"), idempotency_key="k-9")
    assert fourth.contact_id == third.contact_id and fourth.duplicate
    assert len(relay.queued) == 2


async def test_with_kafka_down_the_contact_is_accepted_from_the_outbox():
    intake, relay = service(FakeRelay(broker_up=False))
    accepted = await intake.web_form(form(), idempotency_key=None)
    assert accepted.published is False and list(relay.queued) == [accepted.event_id]


async def test_a_call_is_one_contact_and_its_life_cycle_events_are_derived_once():
    intake, relay = service()
    at = datetime(2026, 11, 23, 9, 14, tzinfo=UTC)
    offered = m.CallOfferedIn(event="offered", call_id="call-1", at=at, dialled_number="050-3671000", caller_number="050 123 4567", ivr_choice="2")
    first = await intake.call_event(offered)
    again = await intake.call_event(offered)
    answered = await intake.call_event(m.CallAnsweredIn(event="answered", call_id="call-1", at=at, agent_id="a-1", wait_s=17))
    assert first.event_id == again.event_id and first.contact_id == again.contact_id
    events = [event for _, event in queued(relay)]
    assert [e.type for e in events] == [
        "nl.contactstad.contact.received", "nl.contactstad.call.offered", "nl.contactstad.call.answered"
    ]
    contact = events[0].data
    assert (contact.channel, contact.service_line, contact.citizen.phone) == ("telephone", "belastingen", P.pseudonym("phone", "+31501234567"))
    assert events[1].data.caller_key == P.pseudonym("phone", "+31501234567")
    assert events[2].id == answered.event_id and events[2].data.wait_s == 17


async def test_a_letter_records_its_legal_deadlines_in_working_days():
    intake, relay = service()
    # Received Thursday 24 Dec 2026: Christmas and Boxing Day and the weekend don't count.
    letter = m.LetterIn(scan_reference="scan-1", received_on=date(2026, 12, 24), ocr_text="Geachte heer, mevrouw ...")
    await intake.letter(letter)
    [(_, event)] = queued(relay)
    assert event.data.acknowledge_due_at.date() == date(2027, 1, 4)  # 28,29,30,31 Dec, (1 Jan), 4 Jan
    assert event.data.answer_due_at.date() == date(2027, 2, 4)


async def test_one_citizen_has_one_pseudonymous_key_across_channels_and_none_when_anonymous():
    intake, relay = service()
    await intake.web_form(form(email="Piet@Voorbeeld.NL"), idempotency_key=None)
    await intake.web_form(form(email="piet@voorbeeld.nl", phone="0612345678"), idempotency_key=None)
    await intake.web_form(form(phone="+31 6 12345678"), idempotency_key=None)
    await intake.web_form(form(), idempotency_key=None)
    keys = [event.data.citizen_key for _, event in queued(relay)]
    assert keys[0] == keys[1] == Pseudonymiser("test-secret").pseudonym("email", "piet@voorbeeld.nl")
    assert keys[2] == Pseudonymiser("test-secret").pseudonym("phone", "+31612345678") != keys[0]
    assert keys[3] is None
    assert "piet" not in keys[0] and "612345678" not in keys[2]
    assert Pseudonymiser("another-secret").pseudonym("email", "piet@voorbeeld.nl") != keys[0]


async def test_a_social_message_identifies_the_citizen_by_platform_and_handle():
    intake, relay = service()
    await intake.social(m.SocialMessageIn(platform="Facebook", message_id="fb-1", handle="@JanJansen", text="Wanneer is de milieustraat open?"))
    [(_, event)] = queued(relay)
    assert (event.data.platform, event.data.citizen.social_handle) == ("facebook", P.pseudonym("social_handle", "facebook:@janjansen"))


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"subject": "x", "message": "y"}, "form_id", "missing"),
        ({"form_id": "f", "subject": "", "message": "y"}, "subject", "string_too_short"),
        ({"form_id": "f", "subject": "x", "message": "y", "phone": "06-1234"}, "phone", "value_error"),
        ({"form_id": "f", "subject": "x", "message": "y", "bsn": "123456789"}, "bsn", "value_error"),
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


async def test_letter_deadlines_follow_the_algemene_termijnenwet_including_5_may():
    intake, relay = service()
    # Thursday 30 April 2026: King's Day was 27 April; 1 May (Fri), 4 May (Mon), 6, 7, 8 May count, 5 May does not.
    await intake.letter(m.LetterIn(scan_reference="scan-2", received_on=date(2026, 4, 30), ocr_text="Bezwaarschrift"))
    [(_, event)] = queued(relay)
    assert event.data.acknowledge_due_at.date() == date(2026, 5, 8)


async def test_identifiers_written_in_the_message_are_masked_in_the_event():
    intake, relay = service()
    text = "Mijn BSN is 111222333, bel me op 06-23456789 of mail p.bakker@example.nl over 2 containers."
    await intake.web_form(form(subject="Vraag van p.bakker@example.nl", message=text, bsn="111222333"), idempotency_key=None)
    [(_, event)] = queued(relay)
    assert event.data.text == "Mijn BSN is [bsn], bel me op [telefoon] of mail [e-mail] over 2 containers."
    assert event.data.subject == "Vraag van [e-mail]"
    assert event.data.citizen.bsn == P.pseudonym("bsn", "111222333")
    # Intake's own store keeps the message as written.
    assert (await intake._contacts.get(event.data.contact_id))["content"]["text"] == text  # noqa: SLF001


async def test_identifiers_in_attachment_names_are_masked_in_the_event():
    intake, relay = service()
    attachments = [
        {"filename": "uittreksel_111222333.pdf", "content_type": "application/pdf", "size": 1000},
        {"filename": "terugbellen 0623456789.txt", "content_type": "text/plain", "size": 12},
        {"filename": "foto.jpg", "content_type": "image/jpeg", "size": 5000},
    ]
    await intake.accept(channel=Channel.EMAIL, dedup_key="<att@example.nl>", fields={
        "received_at": datetime(2026, 11, 30, 9, tzinfo=UTC), "subject": "Uittreksel", "text": "Zie bijlage",
        "attachments": attachments, "citizen": CitizenIdentifiers(email="p.bakker@example.nl"),
    })
    [(_, event)] = queued(relay)
    assert [a.filename for a in event.data.attachments] == ["uittreksel_[bsn].pdf", "terugbellen [telefoon].txt", "foto.jpg"]
    assert [a.size for a in event.data.attachments] == [1000, 12, 5000]
    stored = await intake._contacts.get(event.data.contact_id)  # noqa: SLF001
    assert [a["filename"] for a in stored["content"]["attachments"]] == [a["filename"] for a in attachments]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"reference": "AVG-1"}, None, "give at least one of bsn, phone, email"),
        ({"bsn": "123456789"}, "bsn", "11-proef"),
        ({"email": "a@b.nl", "reference": ""}, "reference", "at least 1 character"),
        ({"email": "a@b.nl", "name": "Jan"}, "name", "Extra inputs"),
        # Who asks comes from the token; a body that claims it is refused, not silently believed.
        ({"email": "a@b.nl", "requested_by": "someone-else"}, "requested_by", "Extra inputs"),
    ],
)
async def test_bad_erasure_requests_get_a_422_naming_the_field(body, field, reason):
    app = create_app(IntakeSettings())  # no lifespan: validation answers before any I/O
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/v1/erasures", json=body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert reason in error["msg"] and (field is None or error["loc"][-1] == field)

