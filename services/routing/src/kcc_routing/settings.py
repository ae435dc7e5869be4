from pydantic_settings import SettingsConfigDict

from kcc_shared.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    """Routing settings (env `KCC_ROUTING_*`, plus the shared `KCC_KAFKA_*`, `KCC_MONGO_*`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_ROUTING_", extra="ignore")

    service_name: str = "routing"
    port: int = 8002
    mongo_database: str = "kcc_routing"
    group_id: str = "kcc-routing"
