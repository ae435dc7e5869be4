"""Intake on the real stack, with a real SMTP sink standing in for the municipality's relay."""

import pytest

from kcc_intake.app import create_app
from kcc_intake.settings import IntakeSettings
from kcc_shared.contracts import CONTACT_RECEIVED
from kcc_shared.testing import running


@pytest.fixture
async def mail_sink(relay_sink):
    """The relay acknowledgements and answers go out through (kcc_shared.testing.RelaySink)."""
    return relay_sink


@pytest.fixture
def intake_env(service_env, mail_sink, monkeypatch):
    def configure(**kwargs):
        env = service_env("intake", **kwargs)
        monkeypatch.setenv("KCC_INTAKE_SMTP__RELAY_PORT", str(mail_sink.port))
        # The outbox of outgoing messages looks often and backs off briefly, so retries happen within a test.
        monkeypatch.setenv("KCC_INTAKE_DELIVERY__POLL_INTERVAL_S", "0.1")
        monkeypatch.setenv("KCC_INTAKE_DELIVERY__BACKOFF_INITIAL_S", "0.2")
        monkeypatch.setenv("KCC_INTAKE_DELIVERY__BACKOFF_MAX_S", "1")
        return env

    return configure


@pytest.fixture
async def intake(intake_env, topic_reader):
    """A running intake (HTTP client, SMTP port) and a reader of contacts published from now on."""
    intake_env()
    app = create_app(IntakeSettings())
    async with running(app) as client:
        client.smtp_port = app.state.smtp[0].sockets[0].getsockname()[1]
        client.app = app
        client.contacts = await topic_reader(CONTACT_RECEIVED.name)
        yield client
