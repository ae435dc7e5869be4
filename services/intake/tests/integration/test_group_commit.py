"""Many requests at once, as the group commit sees them: one bulk write per batch must still
answer every request as if it had been alone.

- The same Idempotency-Key sent concurrently, to two replicas on one store, is one contact
  and one event (repeats inside one batch and across replicas alike: the unique index decides).
- A broker stopped in the middle of a concurrent burst costs nothing: every 202 names a contact
  that is in the store, and once Kafka is back each of them is on the topic under the event id
  its answer gave (consumers take each id once).
- A process that stops after storing a group commit and before publishing it loses nothing:
  the next one publishes it, once.
"""

import asyncio
import json

import pytest

from kcc_intake.app import create_app
from kcc_intake.settings import IntakeSettings
from kcc_shared.contracts import CONTACT_RECEIVED
from kcc_shared.testing import running, unique

from .test_reliability import form

pytestmark = pytest.mark.integration


async def test_one_idempotency_key_sent_concurrently_to_two_replicas_is_one_contact(intake_env, topic_reader):
    intake_env()
    # Two replicas on one database; each its own consumer group, so each gets its partitions.
    first, second = create_app(IntakeSettings()), create_app(IntakeSettings(group_id=unique("test-intake-b")))
    key = unique("idem")
    async with running(first) as a, running(second) as b:
        contacts = await topic_reader(CONTACT_RECEIVED.name)
        responses = await asyncio.gather(*(
            (a if i % 2 else b).post(
                "/v1/channels/web/submissions", json=form(submission_id=unique(f"s{i}")), headers={"Idempotency-Key": key}
            )
            for i in range(40)
        ))
        assert [r.status_code for r in responses] == [202] * 40, [r.text for r in responses if r.status_code != 202]
        answers = [r.json() for r in responses]
        [contact_id] = {answer["contact_id"] for answer in answers}
        records = await contacts.read(count=2, timeout=5, match=lambda r: json.loads(r.value)["data"]["contact_id"] == contact_id)
        stored = await first.state.infra.db["contacts"].count_documents({"dedup_key": f"web:{key}"})
    assert sum(not answer["duplicate"] for answer in answers) == 1
    assert {answer["event_id"] for answer in answers} == {json.loads(records[0].value)["id"]}
    assert len(records) == 1  # one event, not one per request or per replica
    assert stored == 1


async def test_a_broker_stopped_during_a_concurrent_burst_loses_and_duplicates_nothing(
    intake_env, private_kafka, topic_reader, monkeypatch
):
    intake_env(bootstrap=private_kafka.bootstrap)
    monkeypatch.setenv("KCC_INTAKE_ACCEPT_WAIT_S", "0.5")  # answers from the outbox come sooner while Kafka is away
    app = create_app(IntakeSettings())
    total, in_flight = 240, asyncio.Semaphore(24)
    answers: list[dict] = []
    async with running(app) as client:

        async def post(i: int) -> None:
            async with in_flight:
                response = await client.post("/v1/channels/web/submissions", json=form(submission_id=unique(f"burst{i}")))
                assert response.status_code == 202, response.text
                answers.append(response.json())

        burst = asyncio.gather(*(post(i) for i in range(total)))
        while len(answers) < total // 4:  # the broker goes while requests are in every stage
            await asyncio.sleep(0.01)
        await asyncio.to_thread(private_kafka.stop)
        await burst
        accepted = {answer["contact_id"]: answer["event_id"] for answer in answers}
        # 202 means durable: every accepted contact is in the store, whatever Kafka said.
        in_store = {
            doc["_id"]: doc["event_id"]
            async for doc in app.state.infra.db["contacts"].find({"_id": {"$in": list(accepted)}}, {"event_id": 1})
        }
        assert in_store == accepted
        assert any(not answer["published"] for answer in answers)  # some were answered with Kafka away

        await asyncio.to_thread(private_kafka.start)
        topic = await topic_reader(CONTACT_RECEIVED.name, bootstrap=private_kafka.bootstrap)
        for tp in topic._consumer.assignment():  # noqa: SLF001 - the whole topic, from the start
            topic._consumer.seek(tp, 0)  # noqa: SLF001
        records = await topic.read(count=total, timeout=60)
        records += await topic.read(count=1, timeout=2)  # anything more would be a duplicate
    published = [(json.loads(r.value)["data"]["contact_id"], json.loads(r.value)["id"]) for r in records]
    assert len(accepted) == total
    # Every accepted contact, under the one event id its answer gave, and nothing else. A send
    # the broker wrote but could not acknowledge before it stopped may be written again by a
    # replaced producer (a new producer id: Kafka cannot recognise the repeat): the same event
    # id twice, which every consumer's inbox takes once. Never a second id for one contact.
    assert set(published) == set(accepted.items())
    assert len({contact_id for contact_id, _ in published}) == len(set(published))


async def test_contacts_a_process_stored_but_never_published_are_published_once_by_the_next(
    intake_env, topic_reader, monkeypatch
):
    """A process stops (crashes) after its group commits were stored and before anything was
    handed to Kafka: its memory is gone, the pending records in the store are not, and the
    next process publishes every contact of them, once, and closes the records."""
    from kcc_intake.outbox import OutboxRelay

    intake_env()
    monkeypatch.setenv("KCC_INTAKE_ACCEPT_WAIT_S", "0.5")
    first = create_app(IntakeSettings())
    with monkeypatch.context() as patch:

        async def nothing_sent(self) -> int:  # the crash: stored, never handed to the producer
            return 0

        patch.setattr(OutboxRelay, "relay_once", nothing_sent)
        async with running(first) as client:
            responses = await asyncio.gather(*(
                client.post("/v1/channels/web/submissions", json=form(submission_id=unique(f"lost{i}"))) for i in range(30)
            ))
            assert [r.status_code for r in responses] == [202] * 30
            assert not any(r.json()["published"] for r in responses)
            assert await first.state.infra.db["commits"].count_documents({"pending": True}) >= 1
    accepted = {r.json()["contact_id"]: r.json()["event_id"] for r in responses}

    contacts = await topic_reader(CONTACT_RECEIVED.name)
    second = create_app(IntakeSettings())
    async with running(second):
        ours = lambda r: json.loads(r.value)["data"]["contact_id"] in accepted  # noqa: E731
        records = await contacts.read(count=len(accepted), timeout=60, match=ours)
        records += await contacts.read(count=1, timeout=2, match=ours)  # anything more would be a duplicate
        for _ in range(50):  # the relay closes the records behind the acknowledgements
            if not await second.state.infra.db["commits"].count_documents({"pending": True}):
                break
            await asyncio.sleep(0.1)
        left = await second.state.infra.db["commits"].count_documents({"pending": True})
    published = [(json.loads(r.value)["data"]["contact_id"], json.loads(r.value)["id"]) for r in records]
    assert sorted(published) == sorted(accepted.items())
    assert left == 0
