"""What channels post to intake, before it becomes a contract event."""

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from kcc_intake.identifiers import normalise_email, normalise_phone

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class WebFormSubmission(BaseModel):
    """A contact form or e-form submitted on the municipality's website."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    form_id: str = Field(min_length=1, max_length=100, examples=["contactformulier"])
    submission_id: str | None = Field(
        default=None, max_length=200, description="The form system's id; a resubmission with the same id is one contact"
    )
    subject: str = Field(min_length=1, max_length=200, examples=["Paspoort verlopen"])
    message: str = Field(min_length=1, max_length=20_000)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, pattern=EMAIL, max_length=254)
    phone: str | None = Field(
        default=None, max_length=40, description="Any common notation (06-12345678, +31 6 ...); stored as E.164"
    )
    submitted_at: AwareDatetime | None = None

    @field_validator("phone")
    @classmethod
    def _phone_to_e164(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value else None

    @field_validator("email")
    @classmethod
    def _email_lower(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None


class Accepted(BaseModel):
    contact_id: str
    event_id: str
    duplicate: bool = Field(description="True when this submission was already accepted before")
