from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kcc_shared.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    """Routing settings (env `KCC_ROUTING_*`, plus the shared `KCC_KAFKA_*`, `KCC_MONGO_*`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_ROUTING_", extra="ignore")

    service_name: str = "routing"
    port: int = 8002
    mongo_database: str = "kcc_routing"
    group_id: str = "kcc-routing"
    organisation_file: Path | None = Field(
        default=None, description="Organisation configuration (JSON); unset = the shipped Groningen 2012 default"
    )
    lease_s: float = Field(
        default=1800.0, gt=0, le=86_400,
        description="How long an agent's claim on a contact lasts (renewed by POST .../lease); "
        "30 min covers all but the longest calls and counter visits without a renewal",
    )
    presence_ttl_s: float = Field(
        default=3600.0, gt=0, le=86_400,
        description="How long a back-office's presence report holds; without a fresh one the department "
        "counts as nobody present (no warm transfers)",
    )
    ageing_per_minute: float = Field(default=1.0, ge=0, description="Priority points a waiting contact gains per minute")
    organisation_refresh_s: float = Field(
        default=2.0, ge=0, description="How soon department changes made through another instance apply"
    )
    retention_months: int = Field(default=12, ge=1, description="Work items' content is purged after this")
    retention_interval_s: float = Field(default=86_400, gt=0, description="How often the retention purge runs")
    outbox_interval_s: float = Field(
        default=2.0, gt=0, le=3600,
        description="How often the outbox job sends decision and resolve events a failed publish left behind "
        "(those older than `outbox_grace_s`; one replica, under a lease)",
    )
    outbox_grace_s: float = Field(default=5.0, ge=0, description="Fresh outbox entries are left to the request that queued them")
    delivery_tries: int = Field(default=7, ge=1, le=20, description="Webhook attempts per delivery before the dead-letter topic")
    delivery_backoff_s: float = Field(
        default=25.0, gt=0, description="Wait after the n-th failed webhook attempt: this × 4^(n−1) (25 s, 100 s, 400 s, …)"
    )
    delivery_timeout_s: float = Field(default=10.0, gt=0, le=120, description="How long one webhook attempt may take")
    delivery_poll_s: float = Field(default=1.0, gt=0, le=60, description="How often the delivery worker looks for due deliveries")
