"""Consumer lag per group, topic and partition, as the Prometheus gauge `kcc_consumer_lag`.

Lag is the partition's end offset minus the group's committed offset: the messages this
service has yet to finish. The group is each subscriber's own (a service may use one group per
topic), else the service's. Each instance reports the partitions assigned to it, so summing
over instances gives the group's lag without counting a partition twice. A partition the
group never committed on counts from the consumer's position (where it will read next).
"""

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, Gauge

from kcc_shared.settings import KafkaSettings
from kcc_shared.tasks import stop_tasks

log = logging.getLogger(__name__)

Assignment = tuple[str, str, int]  # group, topic, partition


class ConsumerLag:
    """Refreshes the lag gauge every `interval_s` from the broker (and on demand); `group` is
    the service's group, for subscribers that do not name their own."""

    def __init__(
        self, *, broker: KafkaBroker, group: str, kafka: KafkaSettings, registry: CollectorRegistry, interval_s: float
    ) -> None:
        self._broker, self._group, self._kafka, self._interval_s = broker, group, kafka, interval_s
        self.lag = Gauge(
            "kcc_consumer_lag",
            "Messages not yet processed: end offset minus the group's committed offset",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self.refreshed = Gauge(
            "kcc_consumer_lag_refreshed_timestamp_seconds", "When the lag was last read from the broker", registry=registry
        )
        self._reported: set[Assignment] = set()
        self._admin: AIOKafkaAdminClient | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="consumer-lag")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
            self._admin = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker may be away; report again later
                log.warning("consumer lag not refreshed", extra={"error": repr(exc)})
                await self._drop_admin()
            await asyncio.sleep(self._interval_s)

    async def refresh(self) -> dict[Assignment, int]:
        """Read end and committed offsets of the assigned partitions and set the gauge."""
        consumers = [
            (getattr(s, "group_id", None) or self._group, c, c.assignment())
            for s in self._broker.subscribers
            if (c := getattr(s, "consumer", None)) is not None
        ]
        wanted: dict[str, set[TopicPartition]] = {}
        for group, _, tps in consumers:
            wanted.setdefault(group, set()).update(tps)
        committed = {group: await self._committed(group, sorted(tps)) for group, tps in wanted.items() if tps}
        lags: dict[Assignment, int] = {}
        for group, consumer, tps in consumers:
            if not tps:
                continue
            ends = await consumer.end_offsets(list(tps))
            for tp in tps:
                done = committed[group].get(tp)
                if done is None or done < 0:
                    done = await _position(consumer, tp, default=ends[tp])
                lags[(group, tp.topic, tp.partition)] = max(0, ends[tp] - done)
        for key in self._reported - lags.keys():  # revoked in a rebalance: another instance reports it
            with contextlib.suppress(KeyError):
                self.lag.remove(*map(str, key))
        for (group, topic, partition), value in lags.items():
            self.lag.labels(group, topic, str(partition)).set(value)
        self._reported = set(lags)
        self.refreshed.set(time.time())
        return lags

    async def _committed(self, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._kafka.bootstrap,
                client_id=f"{self._kafka.client_id}-lag",
                request_timeout_ms=self._kafka.request_timeout_ms,
            )
            await admin.start()
            self._admin = admin
        offsets = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
        return {tp: meta.offset for tp, meta in offsets.items()}

    async def _drop_admin(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
            self._admin = None


async def _position(consumer: Any, tp: TopicPartition, *, default: int) -> int:
    try:
        return await asyncio.wait_for(consumer.position(tp), 2.0)
    except Exception:  # noqa: BLE001 - not positioned yet: nothing is behind
        return default
