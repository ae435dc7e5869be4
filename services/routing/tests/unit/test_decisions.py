"""Routing decisions with a controllable clock, on the shipped Groningen 2012 organisation."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from kcc_shared.contracts import Channel, CitizenPseudonyms, ContactReceived, ContactReceivedData
from kcc_shared.pseudonyms import Pseudonymiser

PSEUDONYMS = Pseudonymiser("test-secret")

AMS = ZoneInfo("Europe/Amsterdam")
BIJSTAND = "Ik ben mijn baan kwijt en heb geen recht op WW. Hoe vraag ik een bijstandsuitkering aan?"
BIJSTAND_URI = "http://standaarden.overheid.nl/owms/terms/bijstand"


def contact(cid: str, text: str, *, channel=Channel.TELEPHONE, phone: str | None = "+31612345678", at: datetime) -> ContactReceived:
    return ContactReceived.create(
        source="/tests",
        subject=cid,
        time=at,
        data=ContactReceivedData(
            contact_id=cid, channel=channel, received_at=at, text=text, citizen=CitizenPseudonyms(phone=PSEUDONYMS.pseudonym("phone", phone) if phone else None)
        ),
    )


async def test_same_question_goes_to_the_department_before_it_joins_and_to_the_kcc_after(harness):
    # SOZAWE joins the KCC on 1 October 2012 in the shipped configuration.
    before = datetime(2012, 9, 28, 10, 0, tzinfo=AMS)  # a Friday, within office hours
    h = harness(before, sozawe=3)
    first = await h.routing.route(contact("c-1", BIJSTAND, channel=Channel.EMAIL, at=before))
    assert first.routed.data.decision == "forward_to_department"
    assert first.routed.data.department_id == "sozawe"
    assert first.routed.data.upl_uri == BIJSTAND_URI
    assert "joins the KCC on 2012-10-01" in first.routed.data.reason
    assert first.assigned is not None and first.assigned.data.department_id == "sozawe"

    h.clock.now = after = datetime(2012, 10, 1, 10, 0, tzinfo=AMS)
    second = await h.routing.route(contact("c-2", BIJSTAND, channel=Channel.EMAIL, at=after))
    assert second.routed.data.decision == "answer_in_kcc"
    assert second.routed.data.department_id == "sozawe"
    assert "the KCC answers first" in second.routed.data.reason
    assert second.assigned is None and second.callback is None
    # The KCC's agents now find it in their queue, under the department's skill.
    queued = await h.queues.queue(now=after, channel=Channel.EMAIL, skill="sozawe")
    assert [e.contact_id for e in queued] == ["c-2"]


async def test_moving_a_join_date_at_runtime_changes_the_next_decision(harness):
    now = datetime(2012, 11, 5, 10, 0, tzinfo=AMS)
    h = harness(now, sozawe=2)
    assert (await h.routing.route(contact("c-1", BIJSTAND, channel=Channel.WEB, at=now))).routed.data.decision == "answer_in_kcc"
    await h.directory.move_join_date("sozawe", date(2013, 3, 1), now=now)
    assert (await h.routing.route(contact("c-2", BIJSTAND, channel=Channel.WEB, at=now))).routed.data.decision == "forward_to_department"


async def test_reachable_department_gets_a_warm_transfer(harness):
    open_now = datetime(2012, 9, 27, 11, 0, tzinfo=AMS)  # Thursday 11:00
    h = harness(open_now, sozawe=1)
    outcome = await h.routing.route(contact("c-1", BIJSTAND, at=open_now))
    assert outcome.routed.data.decision == "warm_transfer"
    assert "reachable now" in outcome.routed.data.reason
    assert outcome.callback is None and outcome.assigned.data.decision == "warm_transfer"


async def test_department_outside_opening_hours_gets_a_callback_request(harness):
    evening = datetime(2012, 9, 27, 19, 30, tzinfo=AMS)  # Thursday, after 17:00
    h = harness(evening, sozawe=4)
    outcome = await h.routing.route(contact("c-1", BIJSTAND, at=evening))
    assert outcome.routed.data.decision == "callback"
    assert "outside its opening hours" in outcome.routed.data.reason
    request = outcome.callback.data
    assert (request.contact_id, request.department_id, request.upl_uri) == ("c-1", "sozawe", BIJSTAND_URI)
    # The request names the number by its pseudonym only; the callback service resolves it.
    assert request.phone_key == PSEUDONYMS.pseudonym("phone", "+31612345678")
    assert "+31612345678" not in outcome.callback.model_dump_json()
    assert request.norm_working_days == 1
    # Due the next working day: Friday.
    assert outcome.routed.data.due_at.astimezone(AMS).date() == date(2012, 9, 28)


async def test_department_without_presence_gets_a_callback_request(harness):
    open_now = datetime(2012, 9, 27, 11, 0, tzinfo=AMS)
    h = harness(open_now)  # nobody reported present
    outcome = await h.routing.route(contact("c-1", BIJSTAND, at=open_now))
    assert outcome.routed.data.decision == "callback"
    assert "nobody present" in outcome.routed.data.reason
    assert outcome.callback is not None


async def test_without_a_phone_number_an_unreachable_department_gets_the_contact_forwarded(harness):
    sunday = datetime(2012, 9, 30, 11, 0, tzinfo=AMS)
    h = harness(sunday, sozawe=1)
    outcome = await h.routing.route(contact("c-1", BIJSTAND, phone=None, at=sunday))
    assert outcome.routed.data.decision == "forward_to_department"
    assert outcome.callback is None and outcome.assigned is not None


async def test_a_third_transfer_is_refused(harness):
    now = datetime(2013, 2, 5, 10, 0, tzinfo=AMS)  # SOZAWE has joined: the KCC answers first
    h = harness(now, sozawe=2, milieudienst=2)
    routed = await h.routing.route(contact("c-1", BIJSTAND, at=now))
    assert routed.routed.data.decision == "answer_in_kcc"
    transfers = []
    for department_id in (None, "milieudienst", None):
        h.clock.now += timedelta(minutes=2)
        transfers.append(await h.routing.transfer(contact_id="c-1", department_id=department_id))
    first, second, third = transfers
    assert [first.routed.data.decision, second.routed.data.decision] == ["warm_transfer", "warm_transfer"]
    assert [first.routed.data.transfers_so_far, second.routed.data.transfers_so_far] == [0, 1]
    assert third.routed.data.decision == "callback"
    assert "transfer refused: already transferred 2 times" in third.routed.data.reason
    assert third.callback.data.department_id == "sozawe"
    assert (await h.routing.decision_for("c-1")).decision == "callback"


async def test_written_channels_are_forwarded_with_the_due_date_of_their_norm(harness):
    friday = datetime(2012, 9, 28, 16, 0, tzinfo=AMS)
    h = harness(friday, sozawe=1)
    email = await h.routing.route(contact("c-1", BIJSTAND, channel=Channel.EMAIL, at=friday))
    letter = await h.routing.route(contact("c-2", BIJSTAND, channel=Channel.LETTER, at=friday))
    # Two working days after a Friday is the Tuesday; a letter has six weeks.
    assert email.routed.data.due_at == datetime(2012, 10, 2, 16, 0, tzinfo=AMS)
    assert letter.routed.data.due_at == friday + timedelta(weeks=6)
    assert email.assigned.data.due_at == email.routed.data.due_at


async def test_every_decision_carries_contact_id_upl_uri_department_and_reason(harness):
    now = datetime(2012, 9, 27, 20, 0, tzinfo=AMS)
    h = harness(now)
    texts = [BIJSTAND, "Mijn paspoort is verlopen", "De lantaarnpaal is kapot", "xyz qqq", "Container niet geleegd"]
    for i, text in enumerate(texts):
        for channel in Channel:
            data = (await h.routing.route(contact(f"c-{i}-{channel}", text, channel=channel, at=now))).routed.data
            assert data.contact_id == f"c-{i}-{channel}"
            assert data.upl_uri and data.department_id and data.reason


async def test_an_unrecognised_contact_is_a_general_question_for_the_kcc(harness):
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    h = harness(now)
    outcome = await h.routing.route(contact("c-1", "Hallo, zijn jullie er?", channel=Channel.WEB, at=now))
    data = outcome.routed.data
    assert (data.decision, data.department_id, data.upl_name) == ("answer_in_kcc", "kcc", "UPL-naam nog niet beschikbaar")
    assert data.reason.startswith("no recognisable product")


async def test_a_redelivered_contact_yields_the_same_decision_event(harness):
    now = datetime(2012, 9, 27, 20, 0, tzinfo=AMS)
    h = harness(now)
    event = contact("c-9", BIJSTAND, at=now)
    first = await h.routing.route(event)
    h.clock.now = now + timedelta(hours=15)  # open now, but the decision was already made
    second = await h.routing.route(event)
    assert first == second
    assert first.routed.id != event.id and first.callback.id == second.callback.id


async def test_queue_orders_by_channel_priority_with_ageing(harness):
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    h = harness(now)
    old_letter = contact("c-letter", "Mijn paspoort is verlopen", channel=Channel.LETTER, at=now - timedelta(hours=3))
    fresh_call = contact("c-call", "Mijn paspoort is verlopen", channel=Channel.TELEPHONE, at=now - timedelta(minutes=1))
    fresh_mail = contact("c-mail", "Mijn paspoort is verlopen", channel=Channel.EMAIL, at=now)
    for event in (fresh_mail, fresh_call, old_letter):
        await h.routing.route(event)
    entries = await h.queues.queue(now=now)
    # 3 hours of ageing (180 points) lift the letter (base 20) above a call (base 100).
    assert [e.contact_id for e in entries] == ["c-letter", "c-call", "c-mail"]
    assert entries[0].priority == 200.0 and entries[1].priority == 101.0


async def test_the_walking_skeletons_web_contact_is_answered_in_the_kcc(harness):
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    h = harness(now)
    text = "Verhuizing doorgeven Wij verhuizen per 1 januari naar de Oosterstraat 12. Hoe geef ik dat door?"
    data = (await h.routing.route(contact("c-1", text, channel=Channel.WEB, phone=None, at=now))).routed.data
    assert (data.decision, data.department_id, data.upl_name) == ("answer_in_kcc", "burgerzaken", "verhuismelding")
