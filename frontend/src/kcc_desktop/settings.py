from pathlib import Path

from pydantic import AnyHttpUrl, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DesktopSettings(BaseSettings):
    """Desktop settings (env `KCC_DESKTOP_*`): where it listens and where the four services are."""

    model_config = SettingsConfigDict(env_prefix="KCC_DESKTOP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    intake_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    routing_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    callback_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    metrics_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8004")
    timeout_s: float = Field(default=30.0, gt=0, description="How long a forwarded call may take")
    dev_tokens_dir: Path | None = Field(
        default=None,
        description="Development only: a folder of <role>.jwt files (make up's) offered as sign-in buttons; unset in production",
    )

    def services(self) -> dict[str, str]:
        return {
            name: str(url).rstrip("/")
            for name, url in (
                ("intake", self.intake_url), ("routing", self.routing_url),
                ("callback", self.callback_url), ("metrics", self.metrics_url),
            )
        }
