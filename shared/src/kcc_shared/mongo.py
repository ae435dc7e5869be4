"""The store: PyMongo's asyncio client (Motor's maintained successor), traced per service.

Written for MongoDB 7 (production) and checked against the local store by `tests/store/`:
atomic conditional updates, guarded `$inc`, upserts, indexes each repository declares at
start-up (TTL ones included), deletes by filter. No multi-document transactions, so a
standalone MongoDB serves as well as a replica set.
"""

from collections.abc import Iterable
from typing import Any

from opentelemetry.instrumentation.pymongo import CommandTracer
from opentelemetry.sdk.trace import TracerProvider
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kcc_shared.settings import MongoSettings

# Values per `$in` list. The local store checks every candidate against the whole list, so one
# query's cost grows with the square of its length: 1,000 ids, 500 of them stored, take 206 ms
# as one list and 40 ms as twenty lists of 50 (benchmarks/store_ops.py; 25 to 50 was the
# fastest, 10 costs round trips). On MongoDB a chunk is one more round trip, and every command
# stays far under the 16 MB limit.
IN_CHUNK = 50


def make_mongo_client(*, settings: MongoSettings, tracer_provider: TracerProvider, app_name: str) -> AsyncMongoClient:
    """A client whose commands become spans of the service's current trace."""
    tracer = tracer_provider.get_tracer("kcc_shared.mongo")
    return AsyncMongoClient(
        settings.uri.get_secret_value(),
        appname=app_name,
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        timeoutMS=settings.timeout_ms,
        maxPoolSize=settings.max_pool_size,
        tz_aware=True,
        # Command spans name the command and collection only: documents and filters hold
        # personal data (phone numbers, BSNs) and must never become span attributes.
        event_listeners=[CommandTracer(tracer, capture_statement=False)],
    )


async def ping(client: AsyncMongoClient) -> None:
    """Raise unless the store answers."""
    await client.admin.command("ping")


async def insert_once(collection: AsyncCollection, document: dict[str, Any]) -> bool:
    """Insert unless the `_id` exists; True if this call inserted it (of racing callers, exactly one)."""
    try:
        await collection.insert_one(document)
        return True
    except DuplicateKeyError:
        return False


def in_chunks(values: Iterable[Any]) -> list[list[Any]]:
    """`values` sorted and cut into `$in` lists of at most IN_CHUNK."""
    ordered = sorted(values)
    return [ordered[start:start + IN_CHUNK] for start in range(0, len(ordered), IN_CHUNK)]


async def find_in(
    collection: AsyncCollection, field: str, values: Iterable[Any], projection: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The documents whose `field` is one of `values`: one query per chunk of `in_chunks`."""
    found: list[dict[str, Any]] = []
    for chunk in in_chunks(values):
        found += await collection.find({field: {"$in": chunk}}, projection).to_list(None)
    return found
