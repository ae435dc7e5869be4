"""Settings pieces every service composes: Kafka, the store, telemetry, consumer retries."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kcc_shared.auth import AuthSettings
from kcc_shared.pseudonyms import PrivacySettings


class KafkaSettings(BaseSettings):
    """Where the broker is and how topics are created (env `KCC_KAFKA_*`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_KAFKA_", extra="ignore")

    bootstrap: str = "127.0.0.1:9092"
    client_id: str = "contact-stad"
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = Field(default=10_000, ge=1_000)
    publish_timeout_s: float = Field(
        default=10.0, gt=0, description="How long a publish may wait for the broker's acknowledgement"
    )


class MongoSettings(BaseSettings):
    """The MongoDB-compatible store (env `KCC_MONGO_*`); each service owns one database."""

    model_config = SettingsConfigDict(env_prefix="KCC_MONGO_", extra="ignore")

    uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    server_selection_timeout_ms: int = Field(default=5_000, ge=100)
    timeout_ms: int = Field(
        default=60_000, ge=1_000,
        description="No store operation (a cursor's whole read and the wait for a connection included) takes "
        "longer: a stuck store gives an error (503, or a retried event) instead of a request that hangs",
    )
    max_pool_size: int = Field(
        default=100, ge=1, description="Connections per service to the store"
    )


class TelemetrySettings(BaseSettings):
    """Tracing and logs (env `KCC_OTEL_*`, `KCC_LOG_*`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_", extra="ignore")

    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318; unset = no export"
    )
    log_level: str = "INFO"
    log_json: bool = True


class ConsumerSettings(BaseSettings):
    """Bounded retries before a message goes to the dead-letter topic (env `KCC_CONSUMER_*`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_CONSUMER_", extra="ignore")

    max_attempts: int = Field(default=4, ge=1, le=20)
    backoff_initial_s: float = Field(default=0.2, gt=0)
    backoff_max_s: float = Field(default=5.0, gt=0)
    auto_offset_reset: str = Field(default="earliest", pattern="^(earliest|latest)$")
    lag_interval_s: float = Field(default=15.0, gt=0, description="How often kcc_consumer_lag is read from the broker")


class ServiceSettings(BaseSettings):
    """What every service needs; a service subclasses it with its own env prefix and port."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    mongo_database: str
    group_id: str = Field(description="Kafka consumer group of this service")
    startup_timeout_s: float = Field(default=60.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger request bodies get 413")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
