"""kcc.counter.events.v1: counter visits and appointments."""

from datetime import datetime, timedelta, tzinfo
from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract


# --- kcc.counter.events.v1 (counter visits and appointments) ------------------------------


class CounterVisitData(Contract):
    ticket_id: str
    location: str = Field(description="Which counter hall (balie)")
    stage: Literal["drawn", "called", "served", "left"]
    at: AwareDatetime
    contact_id: str | None = Field(default=None, description="The contact this visit is")
    service_line: str | None = None
    desk: str | None = None
    appointment_id: str | None = Field(default=None, description="Set when the visitor had an appointment")


# Ticket numbers restart every morning, not at midnight: a visitor who draws a ticket at 23:50 and
# leaves at 00:10 is one visit. The day a ticket belongs to starts at this local hour.
TICKET_DAY_STARTS_AT_HOUR = 4


def visit_key(*, location: str, ticket_id: str, at: datetime, tz: tzinfo) -> str:
    """The one key every service gives a counter visit: hall, ticket number and the ticket's day."""
    day = (at.astimezone(tz) - timedelta(hours=TICKET_DAY_STARTS_AT_HOUR)).date()
    return f"{location}:{ticket_id}:{day.isoformat()}"


class CounterVisit(CloudEvent):
    """A queue ticket moved on: drawn at the entrance, called to a desk, served, or left unserved."""

    type: Literal["nl.contactstad.counter.visit"] = "nl.contactstad.counter.visit"
    data: CounterVisitData


class CounterAppointmentData(Contract):
    appointment_id: str
    location: str
    status: Literal["booked", "cancelled", "no_show", "served"]
    scheduled_for: AwareDatetime
    at: AwareDatetime
    product: str | None = Field(default=None, description="What the appointment is for, e.g. paspoort")
    contact_id: str | None = None


class CounterAppointment(CloudEvent):
    """An appointment in the counter planner was booked, cancelled, missed or served."""

    type: Literal["nl.contactstad.counter.appointment"] = "nl.contactstad.counter.appointment"
    data: CounterAppointmentData
