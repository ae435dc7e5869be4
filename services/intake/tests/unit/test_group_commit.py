"""The group commit with hand-written bulk collections: concurrent writes share one bulk
insert, repeats get the first document, and a failed write fails its whole batch."""

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from kcc_intake.groupcommit import GroupCommit

from .fakes import FakeRelay


class FakeBulk:
    """A collection with a unique key: `insert_many` as MongoDB's unordered one answers it."""

    def __init__(self, key: str, *, fail: Exception | None = None) -> None:
        self.key, self.fail = key, fail
        self.docs: dict[str, dict] = {}
        self.calls: list[int] = []

    async def insert_many(self, docs):
        self.calls.append(len(docs))
        await asyncio.sleep(0)
        if self.fail:
            raise self.fail
        taken = {}
        for index, doc in enumerate(docs):
            if doc[self.key] in self.docs:
                taken[index] = self.docs[doc[self.key]]
            else:
                self.docs[doc[self.key]] = doc
        return taken


class FakeBatches:
    """The records of group commits: written before the documents they list."""

    def __init__(self, contacts: FakeBulk) -> None:
        self.contacts = contacts
        self.records: list[tuple[list, int]] = []  # (items, contacts stored when it was written)

    async def open_batch(self, batch, items):
        self.records.append((items, len(self.contacts.docs)))


class FakeRegistry:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def register(self, entries):
        self.calls.append([entry["_id"] for entry in entries])


def commit(
    contacts: FakeBulk, outbox: FakeBulk | None = None, registry: FakeRegistry | None = None, *, linger_s: float = 0.01,
    relay: FakeRelay | None = None,
) -> GroupCommit:
    return GroupCommit(
        contacts=contacts, outbox=outbox or FakeBulk("_id"), registry=registry, batches=FakeBatches(contacts),
        relay=relay or FakeRelay(), tracer_provider=TracerProvider(), metrics=CollectorRegistry(), linger_s=linger_s,
    )


async def test_concurrent_writes_share_one_bulk_insert_and_repeats_get_the_first():
    contacts, registry = FakeBulk("dedup_key"), FakeRegistry()
    relay = FakeRelay()
    group = commit(contacts, registry=registry, relay=relay)
    docs = [{"_id": f"c{i}", "dedup_key": f"web:{i % 3}", "event_id": f"e{i}", "topic": "t"} for i in range(9)]
    results = await asyncio.gather(*(
        group.write(collection="contacts", doc=doc, registry=[{"_id": "email:p", "value": "a@b.nl"}]) for doc in docs
    ))
    await group.stop()
    assert contacts.calls == [9]  # one insert for all nine requests
    assert registry.calls == [["email:p"]]  # the registry entry once, however many name it
    assert [stored["_id"] for stored, _, _ in results] == ["c0", "c1", "c2"] * 3
    assert [repeat for _, repeat, _ in results] == [False] * 3 + [True] * 6
    assert list(relay.queued) == ["e0", "e1", "e2"]  # the new events only, in acceptance order


async def test_a_failed_bulk_write_fails_every_request_of_its_batch():
    group = commit(FakeBulk("dedup_key", fail=ConnectionError("store away")))
    results = await asyncio.gather(
        *(group.write(collection="contacts", doc={"_id": f"c{i}", "dedup_key": f"k{i}", "event_id": f"e{i}"}) for i in range(5)),
        return_exceptions=True,
    )
    await group.stop()
    assert [type(r) for r in results] == [ConnectionError] * 5


async def test_contacts_and_life_cycle_events_go_to_their_own_collections_in_one_round():
    contacts, outbox = FakeBulk("dedup_key"), FakeBulk("_id")
    group = commit(contacts, outbox)
    await asyncio.gather(
        group.write(collection="contacts", doc={"_id": "c1", "dedup_key": "k1", "event_id": "c1", "topic": "t"}),
        group.write(collection="outbox", doc={"_id": "e1", "event_id": "e1", "topic": "t"}),
        group.write(collection="outbox", doc={"_id": "e1", "event_id": "e1", "topic": "t"}),
    )
    await group.stop()
    assert (contacts.calls, outbox.calls) == ([1], [2])
    assert list(outbox.docs) == ["e1"]


@pytest.mark.parametrize("linger_s", [0.0, 0.01])
async def test_a_lone_request_is_written_in_a_batch_of_its_own(linger_s):
    contacts = FakeBulk("dedup_key")
    group = commit(contacts, linger_s=linger_s)
    stored, repeat, _ = await group.write(collection="contacts", doc={"_id": "c1", "dedup_key": "k1", "event_id": "c1", "topic": "t"})
    await group.stop()
    assert (stored["_id"], repeat, contacts.calls) == ("c1", False, [1])


async def test_the_batch_record_is_written_before_its_contacts():
    contacts = FakeBulk("dedup_key")
    group = commit(contacts)
    await asyncio.gather(*(
        group.write(collection="contacts", doc={"_id": f"c{i}", "dedup_key": f"k{i}", "event_id": f"e{i}", "topic": "t"})
        for i in range(3)
    ))
    await group.stop()
    [(items, stored_before)] = group._batches.records  # noqa: SLF001
    assert (items, stored_before) == ([("contacts", "c0"), ("contacts", "c1"), ("contacts", "c2")], 0)
    [batch] = {doc["batch"] for doc in contacts.docs.values()}  # one batch, named by each of its contacts
    assert batch and not any("unpublished" in doc for doc in contacts.docs.values())
