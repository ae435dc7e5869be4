"""Service norms, configurable per municipality (env `KCC_METRICS_NORM_*`).

Defaults come from ../shared/brief.md, which takes them from the VNG minimum norms and
municipal service charters; each default names its source in `NORM_SOURCES`."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NormSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KCC_METRICS_NORM_", extra="ignore")

    telephone_threshold_s: float = Field(default=20, gt=0, description="Service-level answer threshold")
    telephone_service_level: float = Field(default=0.80, ge=0, le=1, description="Share answered within the threshold")
    telephone_abandonment_max: float = Field(default=0.05, ge=0, le=1)
    telephone_transfers_max: int = Field(default=2, ge=0, description="Transfers allowed per call")
    email_working_days: int = Field(default=2, ge=0)
    email_share: float = Field(default=0.85, ge=0, le=1, description="Share of e-mails answered in time")
    letter_answer_weeks: int = Field(default=6, ge=1, description="Used when a letter carries no answer_due_at")
    letter_share: float = Field(default=1.0, ge=0, le=1, description="A legal deadline: every letter")
    letter_ack_working_days: int = Field(default=5, ge=0, description="Used when a letter carries no acknowledge_due_at")
    letter_ack_share: float = Field(default=1.0, ge=0, le=1, description="Share of letters acknowledged in time")
    social_hours: float = Field(default=24, gt=0)
    social_share: float = Field(default=1.0, ge=0, le=1)
    kcc_resolution_share: float = Field(default=0.80, ge=0, le=1)
    fcr_share: float = Field(default=0.80, ge=0, le=1, description="First-contact resolution across channels")
    fcr_window_days: int = Field(default=7, ge=1, description="A contact on the same product within this many days is a repeat")
    handoff_share: float = Field(default=0.95, ge=0, le=1, description="Hand-offs to departments completed in time (assumed)")
    satisfaction_target: float = Field(default=7.0, ge=1, le=10, description="Average rapportcijfer to reach (assumed)")
    counter_wait_minutes: float = Field(default=15, gt=0, description="Walk-in visitors")
    counter_wait_appointment_minutes: float = Field(default=5, gt=0, description="Visitors with an appointment")
    callback_share: float = Field(default=0.95, ge=0, le=1, description="Share of call-back promises kept (assumed)")
    counter_share: float = Field(default=0.80, ge=0, le=1, description="Share to meet the wait limit (assumed)")


NORM_SOURCES = {
    "telephone": "VNG minimum norm (brief): 80% answered within 20-25 s; abandonment <= 5%; at most 2 transfers",
    "email": "Municipal charters (brief): answered within 2 working days, 85% target in some charters",
    "letter": "Brief (municipal charters): acknowledgement within 5 working days; answer within 6 weeks",
    "social": "Brief: social media answered within 24 h",
    "kcc": "Antwoord© target (brief): 80% of questions answered by the KCC",
    "fcr": "Brief: >= 80% of questions resolved in the first contact (no repeat on the same subject across channels)",
    "handoff": "Brief: warm transfers only, call-back within 1 working day, written answers by the channel norm; "
    "the 95% share is our assumption",
    "satisfaction": "Seed letter reports a 7.9 for the counter; the 7.0 target is our assumption",
    "callback": "Brief: call-back within 1 working day; the 95% share is our assumption",
    "counter": "Brief: waiting <= 15 min (<= 5 min with appointment); the 80% share is our assumption",
}
