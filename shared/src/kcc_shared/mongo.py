"""The store: PyMongo's asyncio client (Motor's maintained successor), traced per service.

Runs on MongoDB >= 6 and on FerretDB 1.x alike, so nothing here or in a repository may rely
on transactions, change streams, TTL or partial indexes: single-document atomic updates only.
"""

from opentelemetry.instrumentation.pymongo import CommandTracer
from opentelemetry.sdk.trace import TracerProvider
from pymongo import AsyncMongoClient

from kcc_shared.settings import MongoSettings


def make_mongo_client(*, settings: MongoSettings, tracer_provider: TracerProvider, app_name: str) -> AsyncMongoClient:
    """A client whose commands become spans of the service's current trace."""
    tracer = tracer_provider.get_tracer("kcc_shared.mongo")
    return AsyncMongoClient(
        settings.uri.get_secret_value(),
        appname=app_name,
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        tz_aware=True,
        event_listeners=[CommandTracer(tracer)],
    )


async def ping(client: AsyncMongoClient) -> None:
    """Raise unless the store answers."""
    await client.admin.command("ping")
