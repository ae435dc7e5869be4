"""Intake on the real stack, with a real SMTP sink standing in for the municipality's relay."""

import asyncio
from email import message_from_bytes, policy

import pytest
from aiosmtpd.smtp import SMTP

from kcc_intake.app import create_app
from kcc_intake.settings import IntakeSettings
from kcc_shared.contracts import CONTACT_RECEIVED
from kcc_shared.testing import running


class MailSink:
    """An SMTP server that keeps what it receives (message and envelope sender). `refuse(n, match)`
    makes it answer 451 to the next n messages that match, as a relay that is busy would."""

    def __init__(self) -> None:
        self.messages: list = []
        self.envelope_senders: list[str] = []
        self.refused: list = []
        self._refusals: list = []

    def refuse(self, times: int, match) -> None:
        self._refusals.append([times, match])

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        for refusal in self._refusals:
            if refusal[0] > 0 and refusal[1](message):
                refusal[0] -= 1
                self.refused.append(message)
                return "451 4.3.0 Relay busy, try again later"
        self.messages.append(message)
        self.envelope_senders.append(envelope.mail_from)
        return "250 OK"


@pytest.fixture
async def mail_sink():
    sink = MailSink()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(sink), "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    yield sink
    server.close()
    await server.wait_closed()


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
