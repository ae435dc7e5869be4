from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kcc_shared.limits import RateLimitSettings
from kcc_shared.settings import ServiceSettings
from kcc_shared.webhooks import WebhookSettings

# The 35 public numbers that moved under 14 050 map to service lines; a few as the default.
# Line names are routing's IVR lines (services/routing/.../organisation.json `ivr_lines`);
# the general numbers map to "algemeen", which names no product: the agent classifies.
DEFAULT_NUMBER_MAP = {
    "14050": "algemeen",
    "0503678000": "algemeen",
    "0503677000": "burgerzaken",
    "0503671000": "belastingen",
    "0503679000": "werk-inkomen",
    "0503675000": "afval",
    "0503676000": "bouwen",
}


class SmtpSettings(BaseModel):
    """The inbound SMTP listener and the relay acknowledgements go out through."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535, description="0 = any free port")
    mailboxes: list[str] = Field(
        default=["info@groningen.nl", "kcc@groningen.nl", "belastingen@groningen.nl"],
        description="Addresses we accept mail for; others get 550 at RCPT",
    )
    relay_host: str = "127.0.0.1"
    relay_port: int = 2526
    relay_username: str | None = None
    relay_password: SecretStr | None = None
    sender: str = "Gemeente Groningen <noreply@groningen.nl>"
    acknowledge: bool = True
    reply_from: str = Field(
        default="Gemeente Groningen <kcc@groningen.nl>", description="From of answers: a mailbox of ours, so a reply to it is a contact"
    )
    bounce_mailbox: str = Field(
        default="bounces@groningen.nl",
        description="Envelope sender of what we send, as bounces+<delivery>@domain (VERP): delivery status notifications come back here",
    )
    message_id_domain: str = Field(default="groningen.nl", description="Right-hand side of the Message-IDs we give")


class DeliverySettings(BaseModel):
    """The outbox of outgoing messages: acknowledgements and replies by e-mail, social replies by webhook."""

    poll_interval_s: float = Field(default=1.0, gt=0, le=60, description="How often the outbox looks for due messages")
    lease_s: float = Field(default=120.0, gt=0, description="A send not finished in this time is tried again")
    backoff_initial_s: float = Field(default=5.0, gt=0, description="Wait before the second attempt; doubling after each")
    backoff_max_s: float = Field(default=900.0, gt=0)
    max_attempts: int = Field(default=12, ge=1, description="Then the message counts as undelivered")
    timeout_s: float = Field(default=20.0, gt=0, description="For one SMTP or webhook attempt")


class SocialSettings(BaseModel):
    """Where the social channel's integrator takes our replies (signed with the `social` webhook secret)."""

    reply_webhook_url: str | None = Field(default=None, description="The integrator's reply webhook; unset = no social replies")


class LetterSettings(BaseModel):
    """Answer letters: the letterhead, the signature and the plain-language check."""

    municipality: str = "Gemeente Groningen"
    return_address: str = "Postbus 30026, 9700 RM Groningen"
    contact_line: str = "Telefoon 14 050 (maandag tot en met vrijdag 8.00-17.00 uur) - www.groningen.nl - info@groningen.nl"
    signature: str = "Klantcontactcentrum gemeente Groningen"
    objection_departments: list[str] = Field(
        default=["belastingen", "sozawe", "burgerzaken"],
        description="An answer from these departments is a decision (besluit): the letter carries the objection notice",
    )
    objection_weeks: int = Field(default=6, ge=1, description="Awb: the term for an objection (bezwaar)")
    b1_min_flesch_douma: float = Field(
        default=60.0, description="Answers scoring below this Flesch-Douma read above B1: the API warns"
    )


class IntakeSettings(ServiceSettings):
    """Intake settings (env `KCC_INTAKE_*`, nested with `__`, e.g. `KCC_INTAKE_SMTP__PORT`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_INTAKE_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "intake"
    port: int = 8001
    mongo_database: str = "kcc_intake"
    group_id: str = "kcc-intake"
    timezone: str = "Europe/Amsterdam"
    accept_wait_s: float = Field(
        default=2.0, gt=0, description="How long a request waits for the broker's ack before answering 202 from the outbox"
    )
    commit_linger_s: float = Field(
        default=0.002, ge=0, le=0.1,
        description="An idle group commit waits this long for more requests to join its bulk write to the store",
    )
    commit_max_batch: int = Field(default=500, ge=1, le=10_000, description="Documents per group commit at most")
    outbox_ack_timeout_s: float = Field(
        default=15.0, gt=0,
        description="Sends unacknowledged this long while Kafka answers a new client mean the producer is stuck: it is replaced",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_attachment_bytes: int = Field(default=10_485_760, ge=1024, description="One attachment at most")
    max_contact_attachment_bytes: int = Field(
        default=26_214_400, ge=1024, description="A contact's (or a reply's) attachments together at most"
    )
    number_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_NUMBER_MAP))
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    social: SocialSettings = Field(default_factory=SocialSettings)
    letters: LetterSettings = Field(default_factory=LetterSettings)
    retention_months: int = Field(default=12, ge=1, description="Contacts' content and identifiers are purged after this")
    retention_interval_s: float = Field(default=86_400, gt=0, description="How often the retention purge runs")
    access_log_days: int = Field(
        default=730, ge=1, description="How long the protocollering of timeline views is kept (days; TTL index)"
    )
    erasure_services: list[str] = Field(
        default=["intake", "routing", "callback", "metrics"],
        description="Services that must report an erasure before it counts as completed",
    )
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
