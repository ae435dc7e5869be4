"""Counts contacts per day, channel and routing decision."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from kcc_shared.contracts import ContactReceived, ContactRouted

from kcc_metrics.models import DailyCounts
from kcc_metrics.repository import FactRepository


class MetricsService:
    def __init__(self, *, repository: FactRepository, timezone: str) -> None:
        self._repository, self._tz = repository, ZoneInfo(timezone)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._tz).date()

    async def contact_received(self, event: ContactReceived) -> None:
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={"kind": "received", "day": self.local_day(data.received_at).isoformat(), "channel": data.channel.value, "contact_id": data.contact_id},
        )

    async def contact_routed(self, event: ContactRouted) -> None:
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={"kind": "routed", "day": self.local_day(data.routed_at).isoformat(), "decision": data.decision, "contact_id": data.contact_id},
        )

    async def daily_counts(self, day: date) -> DailyCounts:
        return DailyCounts(
            day=day,
            received=await self._repository.count_by(kind="received", day=day, field="channel"),
            routed=await self._repository.count_by(kind="routed", day=day, field="decision"),
        )
