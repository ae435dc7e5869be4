"""Callback settings: the shared pieces plus each department's call-back capacity."""

import json
from datetime import time
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from kcc_shared.settings import ServiceSettings

DEFAULT_DEPARTMENT = "kcc"


class DepartmentCapacity(BaseModel):
    """When a department calls citizens back and how many at a time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    opens: time = time(8, 30)
    closes: time = time(17, 0)
    slot_minutes: int = Field(default=15, ge=5, le=240)
    per_slot: int = Field(default=4, ge=1, description="Call-backs per slot")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Attempts before the call-back fails")
    coordinator: str = Field(min_length=1, description="Who gets overdue and failed call-backs")

    @model_validator(mode="after")
    def _opens_before_closes(self) -> "DepartmentCapacity":
        if self.opens >= self.closes:
            raise ValueError(f"opens {self.opens} must be before closes {self.closes}")
        return self


def _bundled_departments() -> dict[str, DepartmentCapacity]:
    text = (resources.files("kcc_callback") / "departments.json").read_text(encoding="utf-8")
    return {name: DepartmentCapacity.model_validate(spec) for name, spec in json.loads(text).items()}


class CallbackSettings(ServiceSettings):
    """Callback settings (env `KCC_CALLBACK_*`, plus the shared `KCC_KAFKA_*`, `KCC_MONGO_*`).

    Departments join by configuration: `KCC_CALLBACK_DEPARTMENTS_FILE` points at a JSON file
    like the bundled `departments.json` ({department_id: capacity}); a department without an
    entry gets the `kcc` entry's capacity.
    """

    model_config = SettingsConfigDict(env_prefix="KCC_CALLBACK_", extra="ignore")

    service_name: str = "callback"
    port: int = 8003
    mongo_database: str = "kcc_callback"
    group_id: str = "kcc-callback"

    timezone: str = "Europe/Amsterdam"
    departments_file: Path | None = None
    departments: dict[str, DepartmentCapacity] = Field(default_factory=_bundled_departments)
    reminder_minutes_before: int = Field(default=15, ge=0, description="Reminder this long before a slot")
    scheduler_interval_s: float = Field(default=5.0, gt=0, description="How often due timers are looked for")
    timer_lease_s: float = Field(default=60.0, gt=0, description="After this, a claimed timer may be claimed again")
    booking_horizon_days: int = Field(default=60, ge=1, description="How far ahead slots are searched")
    registry_url: str | None = Field(
        default=None, description="Intake's base URL, whose registry resolves phone pseudonyms; unset = do not resolve"
    )
    registry_token: SecretStr | None = Field(default=None, description="This service's bearer token for the registry")
    retention_months: int = Field(default=12, ge=1, description="Phone numbers and notes are purged after this")
    retention_interval_s: float = Field(default=86_400, gt=0, description="How often the retention purge runs")
    keep_finished_days: float = Field(
        default=2, gt=0, le=365,
        description="Fired or skipped timers expire (TTL index) this long after",
    )

    @model_validator(mode="after")
    def _load_departments_file(self) -> "CallbackSettings":
        if self.departments_file is not None:
            loaded = json.loads(self.departments_file.read_text(encoding="utf-8"))
            self.departments = {name: DepartmentCapacity.model_validate(spec) for name, spec in loaded.items()}
        if DEFAULT_DEPARTMENT not in self.departments:
            raise ValueError(f"departments must include a '{DEFAULT_DEPARTMENT}' entry, the default capacity")
        return self

    def capacity(self, department_id: str) -> DepartmentCapacity:
        return self.departments.get(department_id) or self.departments[DEFAULT_DEPARTMENT]
