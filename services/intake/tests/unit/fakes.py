"""Hand-written fakes of intake's store and outbox relay for unit tests."""


class FakeCollection:
    def __init__(self, key: str) -> None:
        self.key, self.docs = key, {}

    async def insert(self, doc):
        if doc[self.key] in self.docs:
            return self.docs[doc[self.key]]
        self.docs[doc[self.key]] = doc
        return None

    async def get(self, doc_id):
        return next((d for d in self.docs.values() if d["_id"] == doc_id), None)


class FakeRelay:
    """Publishes instantly (or, with the broker down, never) and records what it was given."""

    def __init__(self, *, broker_up: bool = True) -> None:
        self.queued: dict[str, tuple[str, dict]] = {}
        self.broker_up = broker_up

    def expect(self, batch, count):
        pass

    def submit(self, *, collection, doc_id, event_id, fields, batch=None):
        self.queued.setdefault(event_id, (fields["topic"], fields))
        return event_id

    def pending(self, event_id):
        return event_id if event_id in self.queued else None

    async def published(self, stored):
        return False

    async def wait(self, pending, *, timeout):
        return self.broker_up


class FakeCommit:
    """The group commit over fake collections: each write stored at once, the registry kept."""

    def __init__(self, contacts: FakeCollection, outbox: FakeCollection, relay: "FakeRelay") -> None:
        self.collections = {"contacts": contacts, "outbox": outbox}
        self.registry: dict[str, dict] = {}
        self.relay = relay

    async def write(self, *, collection, doc, registry=None):
        for entry in registry or []:
            self.registry.setdefault(entry["_id"], entry)
        earlier = await self.collections[collection].insert(doc)
        if earlier is not None:
            return earlier, True, None
        pending = self.relay.submit(collection=collection, doc_id=doc["_id"], event_id=doc["event_id"], fields=doc)
        return doc, False, pending
