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
    """An SMTP server that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
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
