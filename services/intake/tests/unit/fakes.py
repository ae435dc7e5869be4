"""Hand-written fakes of intake's store and outbox relay for unit tests."""


class FakeContacts:
    def __init__(self) -> None:
        self.by_key: dict[str, dict] = {}

    async def insert(self, contact):
        if contact["dedup_key"] in self.by_key:
            return self.by_key[contact["dedup_key"]]
        self.by_key[contact["dedup_key"]] = {**contact, "outboxed": False}
        return None

    async def mark_outboxed(self, contact_id):
        for stored in self.by_key.values():
            if stored["_id"] == contact_id:
                stored["outboxed"] = True

    async def get(self, contact_id):
        return next((c for c in self.by_key.values() if c["_id"] == contact_id), None)


class FakeRelay:
    def __init__(self, *, broker_up: bool = True) -> None:
        self.queued: dict[str, tuple[str, object]] = {}
        self.broker_up = broker_up

    async def enqueue(self, event, *, topic):
        self.queued.setdefault(event.id, (topic.name, event))

    async def wait_published(self, event_id, *, timeout):
        return self.broker_up
