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

    def submit(self, *, collection, doc_id, event_id, fields):
        self.queued.setdefault(event_id, (fields["topic"], fields))
        return event_id

    async def wait(self, pending, *, timeout):
        return self.broker_up
