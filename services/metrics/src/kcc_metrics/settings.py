from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kcc_shared.settings import ServiceSettings

from kcc_metrics.norms import NormSettings


class MetricsSettings(ServiceSettings):
    """Metrics settings (env `KCC_METRICS_*`, plus the shared `KCC_KAFKA_*`, `KCC_MONGO_*`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_METRICS_", extra="ignore")

    service_name: str = "metrics"
    port: int = 8004
    mongo_database: str = "kcc_metrics"
    group_id: str = "kcc-metrics"
    timezone: str = "Europe/Amsterdam"
    norms: NormSettings = Field(default_factory=NormSettings)
    realtime_refresh_s: float = Field(default=15.0, gt=0, description="How often the realtime Prometheus gauges refresh")
    settle_interval_s: float = Field(
        default=30.0, gt=0, description="How often the day sheets batches changed are recomputed ahead of the reports"
    )
    realtime_days: int = Field(default=14, ge=1, description="How far back an unresolved contact still counts as waiting")
