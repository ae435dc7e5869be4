"""The organisation: departments, what they own, when they join the KCC, when they are open.

The default (data/organisation.json) is Groningen 2012: the KCC at DIA answers general
questions, burgerzaken and belastingen from 1 July 2012 (phase 1); the other departments join
on later dates through the end of 2013 (phase 2). Every municipal UPL product has exactly
one owner: listed explicitly, else by the first department whose keyword occurs in the
product's name, else the default owner. Joining is configuration, not code.
"""

import json
from datetime import date, datetime, time, timedelta
from functools import cached_property
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kcc_shared.contracts import Channel, department_topic

from kcc_routing.taxonomy import Product, Taxonomy
from kcc_routing.workdays import add_working_days, is_working_day

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEPARTMENT_ID = r"^[a-z][a-z0-9-]{1,40}$"


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpeningInterval(Model):
    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> "OpeningInterval":
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        return self


class Department(Model):
    id: str = Field(pattern=DEPARTMENT_ID, description="Also names its topic kcc.dept.<id>.contacts.v1")
    name: str = Field(min_length=1)
    phase: int = Field(default=2, ge=1, le=9, description="Roll-out phase the department joins in")
    joins_kcc_on: date = Field(description="From this day the KCC answers the department's questions first")
    opening_hours: dict[Weekday, list[OpeningInterval]] = Field(default_factory=dict)
    back_office_line: str | None = Field(default=None, description="Phone line for warm transfers")
    callback_norm_working_days: int = Field(default=1, ge=0, le=30)
    webhook_url: str | None = Field(default=None, description="Also deliver department work here")
    escalate_overdue_to: str | None = Field(
        default=None, pattern=DEPARTMENT_ID,
        description="Another department (e.g. the KCC's team leads) that also gets this department's overdue call-backs",
    )
    products: list[str] = Field(default_factory=list, description="UPL names or URIs it owns explicitly")
    product_keywords: list[str] = Field(default_factory=list, description="Owns products whose name contains one")

    @field_validator("product_keywords")
    @classmethod
    def _lower(cls, keywords: list[str]) -> list[str]:
        return [k.lower() for k in keywords]

    @property
    def topic(self) -> str:
        return department_topic(self.id).name

    def has_joined(self, today: date) -> bool:
        return today >= self.joins_kcc_on

    def is_open(self, moment: datetime) -> bool:
        """Within opening hours (local time) on a working day."""
        if not is_working_day(moment.date()):
            return False
        now = moment.time()
        return any(i.opens <= now < i.closes for i in self.opening_hours.get(WEEKDAYS[moment.weekday()], []))


class ChannelNorm(Model):
    """How long an answer may take on a channel (VNG minimum norms by default)."""

    working_days: int | None = Field(default=None, ge=0)
    weeks: int | None = Field(default=None, ge=0)
    hours: int | None = Field(default=None, ge=0)

    def due(self, received_at: datetime) -> datetime:
        if self.working_days is not None:
            return add_working_days(received_at, self.working_days)
        if self.weeks is not None:
            return received_at + timedelta(weeks=self.weeks)
        return received_at + timedelta(hours=self.hours or 0)


class OrganisationConfig(Model):
    municipality: str
    timezone: str = "Europe/Amsterdam"
    kcc_department: str = Field(description="The department that is the KCC itself")
    default_owner: str = Field(description="Owner of every product no rule assigns")
    max_transfers: int = Field(default=2, ge=0, description="Norm: a contact is transferred at most this often")
    channel_norms: dict[Channel, ChannelNorm]
    ivr_lines: dict[str, str] = Field(default_factory=dict, description="IVR choice -> UPL name or URI")
    departments: list[Department]

    @model_validator(mode="after")
    def _consistent(self) -> "OrganisationConfig":
        ids = [d.id for d in self.departments]
        if len(ids) != len(set(ids)):
            raise ValueError("department ids must be unique")
        for field in ("kcc_department", "default_owner"):
            if getattr(self, field) not in ids:
                raise ValueError(f"{field} {getattr(self, field)!r} is not a department")
        for department in self.departments:
            if department.escalate_overdue_to not in (None, *ids):
                raise ValueError(f"{department.id}: escalate_overdue_to {department.escalate_overdue_to!r} is not a department")
        return self

    def with_department(self, department: Department) -> "OrganisationConfig":
        """This configuration with one department added or replaced (explicit products move)."""
        others = [d for d in self.departments if d.id != department.id]
        claimed = set(department.products)
        others = [d.model_copy(update={"products": [p for p in d.products if p not in claimed]}) for d in others]
        return self.model_copy(update={"departments": [*others, department]})


class Organisation:
    """A configuration resolved against the taxonomy: who owns what, who is reachable."""

    def __init__(self, config: OrganisationConfig, taxonomy: Taxonomy) -> None:
        self.config, self.taxonomy = config, taxonomy
        self.zone = ZoneInfo(config.timezone)
        self.departments = {d.id: d for d in config.departments}
        self._owner: dict[str, str] = {}
        for department in config.departments:  # explicit products first; a later entry wins
            for name in department.products:
                self._owner[taxonomy.resolve(name).uri] = department.id
        for product in taxonomy.products:
            if product.uri not in self._owner:
                self._owner[product.uri] = next(
                    (d.id for d in config.departments if any(k in product.name.lower() for k in d.product_keywords)),
                    config.default_owner,
                )

    @cached_property
    def kcc(self) -> Department:
        return self.departments[self.config.kcc_department]

    def owner(self, uri: str) -> Department:
        """The department that owns a product (every municipal product has one)."""
        return self.departments[self._owner.get(uri, self.config.default_owner)]

    def products_of(self, department_id: str) -> list[Product]:
        return [p for p in self.taxonomy.products if self._owner[p.uri] == department_id]

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def due(self, channel: Channel, received_at: datetime) -> datetime | None:
        norm = self.config.channel_norms.get(channel)
        return norm.due(self.local(received_at)) if norm else None

    def ivr_product(self, line: str | None) -> Product | None:
        target = self.config.ivr_lines.get(line or "")
        return self.taxonomy.resolve(target) if target else None


def parse_config(text: str) -> OrganisationConfig:
    data = json.loads(text)
    return OrganisationConfig.model_validate({k: v for k, v in data.items() if not k.startswith("_")})


def load_default_config() -> OrganisationConfig:
    """Groningen 2012, shipped with the service."""
    return parse_config((resources.files("kcc_routing") / "data" / "organisation.json").read_text(encoding="utf-8"))
