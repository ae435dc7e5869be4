"""The store conformance suite: the MongoDB behaviour our code relies on, with the numbers it must give.

It needs only a store: `make store-conformance KCC_MONGO_URI=mongodb://…` runs it against any
MongoDB deployment or compatible service (the URI's user needs to create and drop databases),
which is how an operator checks a store before going live. `make test` runs it against the
local one. Each test works in a database of its own and drops it afterwards.
"""

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kcc_shared.queryplans import PlanRecorder

MONGO_URI = os.environ.get("KCC_MONGO_URI", "mongodb://127.0.0.1:27017")
# Concurrent callers: enough connections that they really race on the server.
POOL = 64


@pytest.fixture
async def recorder() -> PlanRecorder:
    return PlanRecorder()


@pytest.fixture
async def client(recorder: PlanRecorder) -> AsyncIterator[AsyncMongoClient]:
    client: AsyncMongoClient = AsyncMongoClient(
        MONGO_URI, tz_aware=True, maxPoolSize=POOL, serverSelectionTimeoutMS=5_000, event_listeners=[recorder]
    )
    try:
        await client.admin.command("ping")
    except Exception as exc:  # noqa: BLE001 - any failure here means "no store"
        pytest.fail(f"no store answers at {MONGO_URI.split('@')[-1]}: {exc} (start one with `make stack-up`)", pytrace=False)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def db(client: AsyncMongoClient) -> AsyncIterator[AsyncDatabase]:
    name = f"conformance_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
