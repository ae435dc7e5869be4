"""Routing's HTTP API: decisions, classification, kennisbank, organisation, presence, queues.

Bad input answers 4xx with the field and the reason (`{"detail": {"field", "reason"}}`, or
FastAPI's 422 list for malformed bodies); unknown things 404; a contact someone else holds 409.
"""

from datetime import date, datetime, timedelta
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi import Path as FastApiPath
from pydantic import BaseModel, Field

from kcc_shared.contracts import (
    AGENT_STATUS,
    AgentStatus,
    AgentStatusChangedData,
    Channel,
    ContactRoutedData,
)
from kcc_shared.runtime import Infrastructure

from kcc_routing.directory import UnknownDepartment
from kcc_routing.knowledge import PLACEHOLDERS, KnowledgeBase, reply_templates
from kcc_routing.organisation import DEPARTMENT_ID, Department, Organisation
from kcc_routing.queues import Conflict, NotFound, Outcome
from kcc_routing.service import RoutingService
from kcc_routing.subscribers import OutcomePublisher


def _routing(request: Request) -> RoutingService:
    return request.app.state.routing


def _outcomes(request: Request) -> OutcomePublisher:
    return request.app.state.outcomes


def _knowledge(request: Request) -> KnowledgeBase:
    return request.app.state.knowledge


def _infra(request: Request) -> Infrastructure:
    return request.app.state.infra


Routing = Annotated[RoutingService, Depends(_routing)]
Outcomes = Annotated[OutcomePublisher, Depends(_outcomes)]
Knowledge = Annotated[KnowledgeBase, Depends(_knowledge)]
Infra = Annotated[Infrastructure, Depends(_infra)]

router = APIRouter(prefix="/v1")


def problem(code: int, field: str, reason: str) -> NoReturn:
    raise HTTPException(code, {"field": field, "reason": reason})


@router.get("/decisions/{contact_id}", tags=["routing"], summary="The latest routing decision for a contact")
async def get_decision(contact_id: str, routing: Routing) -> ContactRoutedData:
    decision = await routing.decision_for(contact_id)
    if decision is None:
        problem(status.HTTP_404_NOT_FOUND, "contact_id", f"no decision for contact {contact_id}")
    return decision


# --- classification and kennisbank -----------------------------------------------------------


class ClassifyRequest(BaseModel):
    text: str = Field(default="", max_length=20_000)
    channel: Channel = Channel.WEB
    service_line: str | None = Field(default=None, description="Telephone: the IVR choice")
    limit: int = Field(default=5, ge=1, le=20)


class RankedProduct(BaseModel):
    name: str
    uri: str
    score: float
    department_id: str


class DepartmentRef(BaseModel):
    id: str
    name: str


class ClassifyResponse(BaseModel):
    recognised: bool
    products: list[RankedProduct]
    department: DepartmentRef
    confidence: float = Field(
        default=0.0, ge=0, le=1,
        description="Calibrated probability that the first product is right (1 for a phone-menu choice)",
    )
    triage: bool = Field(
        default=False,
        description="Recognised, but the confidence is below the threshold: routing sends such a contact to the "
        "KCC triage queue (skill 'triage') for an agent, not to the department",
    )


@router.post("/classify", tags=["classification"], summary="Ranked UPL products for a text, and the owning department")
async def classify(body: ClassifyRequest, routing: Routing) -> ClassifyResponse:
    if not body.text.strip() and not body.service_line:
        problem(422, "text", "give a text (or, for telephone, a service_line)")
    found = await routing.classify(text=body.text, channel=body.channel, service_line=body.service_line, limit=body.limit)
    organisation = await routing.directory.current()
    return ClassifyResponse(
        recognised=found.recognised,
        products=[
            RankedProduct(name=c.product.name, uri=c.product.uri, score=c.score, department_id=organisation.owner(c.product.uri).id)
            for c in found.candidates
        ],
        department=DepartmentRef(id=found.department.id, name=found.department.name),
        confidence=found.confidence,
        triage=found.triage,
    )


@router.get("/knowledge/search", tags=["kennisbank"], summary="Kennisbank items (VAC's) for a question, typo-tolerant")
async def search_knowledge(
    knowledge: Knowledge,
    q: Annotated[str, Query(min_length=2, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    upl_uri: str | None = None,
) -> dict[str, Any]:
    hits = knowledge.search(q, limit=limit, upl_uri=upl_uri)
    return {"query": q, "items": [{**hit.item.__dict__, "score": hit.score} for hit in hits]}


@router.get(
    "/knowledge/reply-templates", tags=["kennisbank"],
    summary="Reply templates for a UPL product, from its kennisbank items, with placeholders intake fills in",
)
async def get_reply_templates(knowledge: Knowledge, upl_uri: Annotated[str, Query(min_length=1, max_length=500)]) -> dict[str, Any]:
    return {"upl_uri": upl_uri, "placeholders": PLACEHOLDERS, "templates": reply_templates(knowledge, upl_uri=upl_uri)}


# --- organisation -----------------------------------------------------------------------------


def _department_view(organisation: Organisation, department: Department, today: date, *, products: bool) -> dict[str, Any]:
    owned = organisation.products_of(department.id)
    view = {
        **department.model_dump(mode="json"),
        "topic": department.topic,
        "joined": department.has_joined(today),
        "product_count": len(owned),
    }
    if products:
        view["owned_products"] = [{"name": p.name, "uri": p.uri} for p in owned]
    return view


@router.get("/organisation", tags=["organisation"], summary="The current organisation configuration")
async def get_organisation(routing: Routing) -> dict[str, Any]:
    organisation = await routing.directory.current()
    today = organisation.local(routing.clock()).date()
    config = organisation.config.model_dump(mode="json", exclude={"departments"})
    return {**config, "departments": [_department_view(organisation, d, today, products=False) for d in organisation.config.departments]}


@router.get("/organisation/departments/{department_id}", tags=["organisation"], summary="One department and the products it owns")
async def get_department(department_id: str, routing: Routing) -> dict[str, Any]:
    organisation = await routing.directory.current()
    department = organisation.departments.get(department_id)
    if department is None:
        problem(status.HTTP_404_NOT_FOUND, "department_id", f"no department {department_id}")
    return _department_view(organisation, department, organisation.local(routing.clock()).date(), products=True)


@router.put("/organisation/departments/{department_id}", tags=["organisation"], summary="Add or replace a department (takes effect at once; its topic is created)")
async def put_department(department_id: str, department: Department, routing: Routing, outcomes: Outcomes) -> dict[str, Any]:
    if department.id != department_id:
        problem(422, "id", f"body id {department.id!r} differs from the path {department_id!r}")
    try:
        await routing.directory.put_department(department, now=routing.clock())
    except KeyError as exc:
        problem(422, "products", str(exc.args[0]))
    except ValueError as exc:  # the organisation would not hold together (e.g. an unknown escalation department)
        errors = getattr(exc, "errors", None)
        reason = errors()[0]["msg"] if callable(errors) else str(exc)
        problem(422, "department", reason.removeprefix("Value error, "))
    await outcomes.ensure_department_topic(department.id)
    return await get_department(department_id, routing)


class JoinDate(BaseModel):
    joins_kcc_on: date


@router.put("/organisation/departments/{department_id}/join-date", tags=["organisation"], summary="Move the day a department joins the KCC")
async def move_join_date(department_id: str, body: JoinDate, routing: Routing) -> dict[str, Any]:
    try:
        await routing.directory.move_join_date(department_id, body.joins_kcc_on, now=routing.clock())
    except UnknownDepartment:
        problem(status.HTTP_404_NOT_FOUND, "department_id", f"no department {department_id}")
    return await get_department(department_id, routing)


@router.post(
    "/organisation/reload", tags=["organisation"],
    summary="Re-read the organisation file, here at once and on every other instance within KCC_ROUTING_ORGANISATION_REFRESH_S (runtime changes stay)",
)
async def reload_organisation(routing: Routing, outcomes: Outcomes) -> dict[str, Any]:
    try:
        await routing.directory.reload_everywhere()
    except (ValueError, OSError) as exc:  # a broken or missing file keeps the previous configuration
        problem(422, "organisation_file", str(exc)[:500])
    organisation = await routing.directory.current()
    for department_id in organisation.departments:
        await outcomes.ensure_department_topic(department_id)
    return await get_organisation(routing)


@router.get(
    "/organisation/departments/{department_id}/reachability", tags=["organisation"],
    summary="Whether a warm transfer to the department can happen now (open and someone present), and why not",
    responses={404: {"description": "No such department"}},
)
async def get_reachability(department_id: str, routing: Routing) -> dict[str, Any]:
    try:
        found = await routing.reachability(department_id)
    except KeyError:
        problem(status.HTTP_404_NOT_FOUND, "department_id", f"no department {department_id}")
    return found.__dict__


@router.get(
    "/departments/{department_id}/contacts", tags=["organisation"],
    summary="Contacts handed to the department (forwarded, call-back, warm transfer), newest first, with their due dates",
)
async def get_department_contacts(
    department_id: Annotated[str, FastApiPath(pattern=DEPARTMENT_ID)], routing: Routing,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    items = await routing.handed_to(department_id, limit=limit)
    return {"department_id": department_id, "items": [item.model_dump(mode="json") for item in items]}


# --- back-office presence ---------------------------------------------------------------------


class PresenceReport(BaseModel):
    agents: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(description="Who is available now")


def _presence_view(department_id: str, doc: dict[str, Any] | None, *, ttl: timedelta, now: datetime) -> dict[str, Any]:
    if doc is None:
        return {"department_id": department_id, "agents": [], "reported_at": None, "expires_at": None, "expired": True}
    expires_at = doc["reported_at"] + ttl
    return {
        "department_id": department_id, "agents": doc["agents"], "reported_at": doc["reported_at"],
        "expires_at": expires_at, "expired": expires_at <= now,
    }


@router.put(
    "/presence/{department_id}",
    tags=["presence"],
    summary="A department reports who is available in its back-office (holds for KCC_ROUTING_PRESENCE_TTL_S; resend before it expires)",
)
async def report_presence(department_id: str, body: PresenceReport, routing: Routing, request: Request) -> dict[str, Any]:
    organisation = await routing.directory.current()
    if department_id not in organisation.departments:
        problem(status.HTTP_404_NOT_FOUND, "department_id", f"no department {department_id}")
    presence = request.app.state.presence
    now = routing.clock()
    doc = await presence.report(department_id=department_id, agents=body.agents, now=now)
    return _presence_view(department_id, doc, ttl=presence.ttl, now=now)


@router.get(
    "/presence/{department_id}",
    tags=["presence"],
    summary="Who the department last reported available, and whether that report still holds",
)
async def get_presence(department_id: str, routing: Routing, request: Request) -> dict[str, Any]:
    presence = request.app.state.presence
    doc = await presence.get(department_id)
    return _presence_view(department_id, doc, ttl=presence.ttl, now=routing.clock())


# --- KCC agents' status ---------------------------------------------------------------------------


class AgentStatusReport(BaseModel):
    status: AgentStatus = Field(description="available, busy, away or offline")
    skills: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50, description="Departments whose contacts the agent can answer"
    )


@router.put(
    "/agents/{agent_id}/status",
    tags=["agents"],
    summary="An agent's desktop reports the agent's status (published on kcc.agent.status.v1; metrics counts who is available)",
)
async def report_agent_status(agent_id: str, body: AgentStatusReport, routing: Routing, infra: Infra) -> AgentStatusChangedData:
    if not 1 <= len(agent_id) <= 100:
        problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "agent_id", "1 to 100 characters")
    event = routing.agent_status(agent_id=agent_id, status=body.status, skills=body.skills)
    await infra.publisher.publish(event, topic=AGENT_STATUS)
    return event.data


# --- agent work queues --------------------------------------------------------------------------


class ClaimRequest(BaseModel):
    agent_id: str = Field(min_length=1, max_length=100)


class ResolveRequest(BaseModel):
    agent_id: str = Field(min_length=1, max_length=100)
    outcome: Outcome
    handle_time_s: float = Field(ge=0, le=86_400)


class TransferRequest(BaseModel):
    department_id: str | None = Field(default=None, pattern=DEPARTMENT_ID, description="Default: the product's owner")


@router.get("/queues", tags=["queues"], summary="Contacts waiting for a KCC agent, highest priority (with ageing) first")
async def get_queue(
    routing: Routing,
    channel: Channel | None = None,
    skill: Annotated[str | None, Query(pattern=DEPARTMENT_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    entries = await routing.queues.queue(now=routing.clock(), channel=channel, skill=skill, limit=limit)
    return {"channel": channel, "skill": skill, "items": [e.__dict__ for e in entries]}


@router.post("/queues/items/{contact_id}/claim", tags=["queues"], summary="Claim a contact exclusively, with a lease")
async def claim(contact_id: str, body: ClaimRequest, routing: Routing) -> dict[str, Any]:
    try:
        item = await routing.queues.claim(contact_id=contact_id, agent_id=body.agent_id, now=routing.clock())
    except NotFound:
        problem(status.HTTP_404_NOT_FOUND, "contact_id", f"no queued contact {contact_id}")
    except Conflict as exc:
        problem(status.HTTP_409_CONFLICT, "contact_id", str(exc))
    return {"contact_id": contact_id, "claimed_by": item["claimed_by"], "lease_until": item["lease_until"]}


@router.post(
    "/queues/items/{contact_id}/lease", tags=["queues"],
    summary="Renew the claimant's lease (a heartbeat while the agent works: call it well within the lease)",
)
async def renew_lease(contact_id: str, body: ClaimRequest, routing: Routing) -> dict[str, Any]:
    try:
        item = await routing.queues.renew(contact_id=contact_id, agent_id=body.agent_id, now=routing.clock())
    except NotFound:
        problem(status.HTTP_404_NOT_FOUND, "contact_id", f"no queued contact {contact_id}")
    except Conflict as exc:
        problem(status.HTTP_409_CONFLICT, "agent_id", str(exc))
    return {"contact_id": contact_id, "claimed_by": item["claimed_by"], "lease_until": item["lease_until"]}


@router.post(
    "/queues/items/{contact_id}/resolve", tags=["queues"],
    summary="Close a claimed contact with its outcome (publishes kcc.contact.resolved.v1 through the item's outbox; "
    "the same call again returns the same event)",
)
async def resolve(contact_id: str, body: ResolveRequest, routing: Routing, request: Request) -> dict[str, Any]:
    try:
        resolved, unsent = await routing.queues.resolve(
            contact_id=contact_id, agent_id=body.agent_id, outcome=body.outcome, handle_time_s=body.handle_time_s, now=routing.clock()
        )
    except NotFound:
        problem(status.HTTP_404_NOT_FOUND, "contact_id", f"no queued contact {contact_id}")
    except Conflict as exc:
        problem(status.HTTP_409_CONFLICT, "agent_id", str(exc))
    # Saved with the resolution; what cannot be published now, the outbox job publishes later.
    await request.app.state.work_outbox.send(contact_id, unsent)
    return resolved.data.model_dump(mode="json")


@router.post(
    "/contacts/{contact_id}/transfers", tags=["queues"],
    summary="Hand a contact to a department: warm transfer, call-back or forward (retry with the same Idempotency-Key: one transfer)",
)
async def transfer(
    contact_id: str, body: TransferRequest, routing: Routing, outcomes: Outcomes,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200, description="Same key again = the same transfer, once")
    ] = None,
) -> ContactRoutedData:
    try:
        outcome = await routing.transfer(contact_id=contact_id, department_id=body.department_id, idempotency_key=idempotency_key)
    except NotFound:
        problem(status.HTTP_404_NOT_FOUND, "contact_id", f"no queued contact {contact_id}")
    except KeyError:
        problem(status.HTTP_404_NOT_FOUND, "department_id", f"no department {body.department_id}")
    await outcomes.publish(outcome)
    return outcome.routed.data
