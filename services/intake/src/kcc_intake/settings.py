from pydantic_settings import SettingsConfigDict

from kcc_shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Intake settings (env `KCC_INTAKE_*`, plus the shared `KCC_KAFKA_*`, `KCC_MONGO_*`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_INTAKE_", extra="ignore")

    service_name: str = "intake"
    port: int = 8001
    mongo_database: str = "kcc_intake"
    group_id: str = "kcc-intake"
