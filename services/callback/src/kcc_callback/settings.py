from pydantic_settings import SettingsConfigDict

from kcc_shared.settings import ServiceSettings


class CallbackSettings(ServiceSettings):
    """Callback settings (env `KCC_CALLBACK_*`, plus the shared `KCC_KAFKA_*`, `KCC_MONGO_*`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_CALLBACK_", extra="ignore")

    service_name: str = "callback"
    port: int = 8003
    mongo_database: str = "kcc_callback"
    group_id: str = "kcc-callback"
