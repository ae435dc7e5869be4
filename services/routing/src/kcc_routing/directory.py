"""The current organisation: the configuration file plus the changes made at runtime.

Changes live in the store, so every routing instance sees a department added through the API
on its next decision, without a restart; a reload re-reads the file.
"""

import logging
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol

from kcc_routing.organisation import Department, Organisation, OrganisationConfig
from kcc_routing.taxonomy import Taxonomy


log = logging.getLogger(__name__)


class UnknownDepartment(LookupError):
    pass


class Changes(Protocol):
    async def put(self, *, department: dict, now: datetime) -> None: ...
    async def snapshot(self) -> tuple[list[dict], int]: ...
    async def request_reload(self) -> int: ...


class Directory:
    def __init__(
        self,
        *,
        load_config: Callable[[], OrganisationConfig],
        taxonomy: Taxonomy,
        changes: Changes,
        refresh_s: float = 0.0,
    ) -> None:
        self._load_config, self._taxonomy, self._changes = load_config, taxonomy, changes
        self._base = load_config()
        self._cache: tuple[tuple, Organisation] | None = None
        # Changes made through another instance are seen within `refresh_s`; this instance's
        # own changes at once.
        self._refresh_s, self._checked_at = refresh_s, float("-inf")
        self._reloads: int | None = None  # the store's reload count this instance's file reflects

    def reload(self) -> None:
        """Re-read the configuration file (runtime changes stay applied on top)."""
        self._base = self._load_config()
        self._cache, self._checked_at = None, float("-inf")

    async def reload_everywhere(self) -> None:
        """Re-read the file here (a broken file raises, and nothing changes anywhere), then ask
        every other instance to, within `refresh_s`."""
        self.reload()
        self._reloads = await self._changes.request_reload()

    async def current(self) -> Organisation:
        if self._cache is not None and time.monotonic() - self._checked_at < self._refresh_s:
            return self._cache[1]
        changes, reloads = await self._changes.snapshot()
        self._checked_at = time.monotonic()
        if self._reloads is None:
            self._reloads = reloads  # read at start-up
        elif reloads > self._reloads:  # another instance was asked to reload the file
            try:
                self._base = self._load_config()
            except (ValueError, OSError):
                log.warning("organisation file reload asked by another instance failed; keeping the previous one", exc_info=True)
            self._reloads, self._cache = reloads, None
        fingerprint = tuple((c["_id"], c["changed_at"]) for c in changes)
        if self._cache is None or self._cache[0] != fingerprint:
            config = self._base
            for change in changes:
                config = config.with_department(Department.model_validate(change["department"]))
            self._cache = (fingerprint, Organisation(OrganisationConfig.model_validate(config.model_dump()), self._taxonomy))
        return self._cache[1]

    async def put_department(self, department: Department, *, now: datetime) -> Department:
        """Add or replace a department; its products must be municipal UPL products, and the
        organisation must hold together with it (ValueError otherwise) before it is stored, so a
        bad change never reaches the other replicas."""
        for name in department.products:
            self._taxonomy.resolve(name)  # KeyError names the unknown product
        OrganisationConfig.model_validate((await self.current()).config.with_department(department).model_dump())
        await self._changes.put(department=department.model_dump(mode="json"), now=now)
        self._checked_at = float("-inf")
        return department

    async def move_join_date(self, department_id: str, joins_kcc_on: date, *, now: datetime) -> Department:
        organisation = await self.current()
        if department_id not in organisation.departments:
            raise UnknownDepartment(department_id)
        moved = organisation.departments[department_id].model_copy(update={"joins_kcc_on": joins_kcc_on})
        await self._changes.put(department=moved.model_dump(mode="json"), now=now)
        self._checked_at = float("-inf")
        return moved
