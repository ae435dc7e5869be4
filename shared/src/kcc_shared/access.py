"""Who may call what: ONE table of route × role for every service, enforced in one place.

`ACCESS` lists, per service, every route (method + path template) with the roles allowed to
call it. `install_access_guard` (wired by `kcc_shared.runtime.create_service_app`) checks each
request against it: a route missing from the table is refused (403), so a new route is closed
until someone decides who may use it. A unit test checks that every route of every app is here.

Roles come from the token's `roles` claim:

- `agent`: KCC agents (queues, kennisbank, citizen timeline, contacts, call-backs)
- `department:<id>`: a department's back-office: only its own contacts and call-backs
- `integrator:<channel>`: a channel system posting to its own adapter (`telephone`, `email`,
  `web`, `counter`, `letter`, `social`)
- `ops`: operations (figures, dead letters, replay)
- `admin`: organisation configuration
- `service:<name>`: another service of the platform calling this one

A role pattern in the table is a role (`agent`), a role bound to a path or query parameter
(`department:{department_id}`: the caller's department must be that parameter), or a wildcard
(`service:*`). `department:*` needs a `resource`: a loader the service registers that names the
department owning the addressed record (call-back, routing decision); another department's
token gets 404 and no data, as if the record did not exist.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pymongo.errors import PyMongoError
from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kcc_shared.auth import REALM, InvalidToken, Principal, TokenValidator, bearer
from kcc_shared.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, InvalidSignature, WebhookVerifier

log = logging.getLogger(__name__)

PUBLIC = "public"  # no token needed: probes and API documentation

# A resource loader returns the department owning the addressed record, None when the record
# belongs to no department, or MISSING when there is no such record (the route then answers 404).
MISSING = object()
ResourceLoader = Callable[[Request, Mapping[str, str]], Awaitable[Any]]


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    allow: tuple[str, ...]
    resource: str | None = None  # loader naming the owning department, for `department:*`
    webhook: str | None = None  # source whose signature the request must carry

    def __post_init__(self) -> None:
        if "department:*" in self.allow and self.resource is None:
            raise ValueError(f"{self.method} {self.path}: department:* needs a resource loader")

    @property
    def public(self) -> bool:
        return PUBLIC in self.allow

    def grant(self, principal: Principal, params: Mapping[str, str]) -> str | None:
        """"full", "resource" (allowed if the record is the caller's department's) or None."""
        scoped = False
        for pattern in self.allow:
            kind, _, arg = pattern.partition(":")
            if not arg:
                if pattern in principal.roles:
                    return "full"
            elif arg == "*":
                if principal.scoped(kind):
                    if kind == "department":
                        scoped = True
                    else:
                        return "full"
            elif arg.startswith("{") and arg.endswith("}"):
                value = params.get(arg[1:-1])
                if value is not None and f"{kind}:{value}" in principal.roles:
                    return "full"
            elif pattern in principal.roles:
                return "full"
        return "resource" if scoped else None


def _rules(*rows: tuple) -> tuple[Rule, ...]:
    return tuple(Rule(*row) for row in rows)


AGENT, OPS, ADMIN, SERVICE = "agent", "ops", "admin", "service:*"

# Some rows name routes that other branches of this work add (dead letters; registry, erasure
# and the call-back's phone; acknowledgement, channel mix, breakdown, realtime, satisfaction):
# a row without a route is harmless, a route without a row is closed.

COMMON = _rules(
    ("GET", "/healthz", (PUBLIC,)),
    ("GET", "/readyz", (PUBLIC,)),
    ("GET", "/metrics", (PUBLIC,)),
    ("GET", "/openapi.json", (PUBLIC,)),
    ("GET", "/docs", (PUBLIC,)),
    ("GET", "/docs/oauth2-redirect", (PUBLIC,)),
    ("GET", "/redoc", (PUBLIC,)),
    # Dead letters (every service's ops API)
    ("GET", "/v1/ops/dead-letters", (OPS,)),
    ("GET", "/v1/ops/dead-letters/{dead_letter_id}", (OPS,)),
    ("POST", "/v1/ops/dead-letters/{dead_letter_id}/replay", (OPS,)),
    ("POST", "/v1/ops/dead-letters/replay", (OPS,)),
)

# method, path template, allowed roles[, resource loader[, signed webhook source]]
ACCESS: dict[str, tuple[Rule, ...]] = {
    "intake": _rules(
        ("POST", "/v1/channels/web/submissions", ("integrator:web",)),
        ("POST", "/v1/channels/web/appointments", ("integrator:web",)),
        ("POST", "/v1/channels/telephone/events", ("integrator:telephone",), None, "telephone"),
        ("POST", "/v1/channels/counter/visits", ("integrator:counter",), None, "counter"),
        ("POST", "/v1/channels/counter/appointments", ("integrator:counter",), None, "counter"),
        ("POST", "/v1/channels/letters", ("integrator:letter",)),
        ("POST", "/v1/channels/social/messages", ("integrator:social",), None, "social"),
        ("POST", "/v1/channels/email/inbound", ("integrator:email",), None, "email"),
        ("GET", "/v1/contacts/{contact_id}", (AGENT, SERVICE)),
        ("GET", "/v1/citizens/timeline", (AGENT,)),
        ("GET", "/v1/access-log", (OPS,)),
        ("POST", "/v1/contacts/{contact_id}/acknowledgement", (AGENT, "integrator:letter")),
        ("GET", "/v1/contacts/{contact_id}/attachments", (AGENT, "department:*"), "contact"),
        ("GET", "/v1/contacts/{contact_id}/attachments/{attachment_id}", (AGENT, "department:*"), "contact"),
        ("POST", "/v1/contacts/{contact_id}/replies", (AGENT, "department:*"), "contact"),
        ("GET", "/v1/contacts/{contact_id}/replies/{reply_id}", (AGENT, "department:*"), "contact"),
        ("GET", "/v1/contacts/{contact_id}/replies/{reply_id}/letter", (AGENT, "integrator:letter", "department:*"), "contact"),
        ("GET", "/v1/registry/pseudonyms/{pseudonym}", ("service:callback",)),
        ("POST", "/v1/erasures", (ADMIN,)),
        ("GET", "/v1/erasures/{erasure_id}", (ADMIN,)),
    ),
    "routing": _rules(
        ("GET", "/v1/decisions/{contact_id}", (AGENT, OPS, SERVICE, "department:*"), "decision"),
        ("POST", "/v1/classify", (AGENT, SERVICE)),
        ("GET", "/v1/knowledge/search", (AGENT,)),
        ("GET", "/v1/knowledge/reply-templates", (AGENT,)),
        ("GET", "/v1/organisation", (AGENT, OPS, ADMIN)),
        ("GET", "/v1/organisation/departments/{department_id}", (AGENT, OPS, ADMIN, "department:{department_id}")),
        ("PUT", "/v1/organisation/departments/{department_id}", (ADMIN,)),
        ("GET", "/v1/organisation/departments/{department_id}/reachability", (AGENT, OPS, ADMIN, "department:{department_id}")),
        ("GET", "/v1/departments/{department_id}/contacts", (AGENT, OPS, "department:{department_id}")),
        ("PUT", "/v1/organisation/departments/{department_id}/join-date", (ADMIN,)),
        ("POST", "/v1/organisation/reload", (ADMIN,)),
        ("PUT", "/v1/presence/{department_id}", (ADMIN, "department:{department_id}")),
        ("GET", "/v1/presence/{department_id}", (AGENT, OPS, ADMIN, "department:{department_id}")),
        ("PUT", "/v1/agents/{agent_id}/status", (AGENT, ADMIN)),
        ("GET", "/v1/queues", (AGENT,)),
        ("POST", "/v1/queues/items/{contact_id}/claim", (AGENT,)),
        ("POST", "/v1/queues/items/{contact_id}/resolve", (AGENT,)),
        ("POST", "/v1/queues/items/{contact_id}/lease", (AGENT,)),
        ("POST", "/v1/contacts/{contact_id}/transfers", (AGENT,)),
    ),
    "callback": _rules(
        ("GET", "/v1/callbacks/{callback_id}", (AGENT, "department:*"), "callback"),
        ("GET", "/v1/departments/{department_id}/callbacks/due-today", (AGENT, "department:{department_id}")),
        ("GET", "/v1/departments/{department_id}/callbacks/free-slots", (AGENT, "department:{department_id}")),
        ("POST", "/v1/callbacks/{callback_id}/claim", (AGENT, "department:*"), "callback"),
        ("POST", "/v1/callbacks/{callback_id}/attempts", (AGENT, "department:*"), "callback"),
        ("POST", "/v1/callbacks/{callback_id}/complete", (AGENT, "department:*"), "callback"),
        ("POST", "/v1/callbacks/{callback_id}/reschedule", (AGENT, "department:*"), "callback"),
        ("POST", "/v1/callbacks/{callback_id}/cancel", (AGENT, "department:*"), "callback"),
        ("GET", "/v1/callbacks/{callback_id}/phone", (AGENT, "department:*"), "callback"),
    ),
    "metrics": _rules(
        ("GET", "/v1/counts/daily", (AGENT, OPS, ADMIN)),
        ("GET", "/v1/service-norms", (AGENT, OPS, ADMIN, "department:{department}")),
        ("GET", "/v1/channel-mix", (AGENT, OPS, ADMIN)),
        ("GET", "/v1/breakdown", (AGENT, OPS, ADMIN)),
        ("GET", "/v1/intervals", (AGENT, OPS, ADMIN)),
        ("GET", "/v1/realtime", (AGENT, OPS, ADMIN)),
        ("GET", "/v1/satisfaction", (AGENT, OPS, ADMIN)),
        ("POST", "/v1/satisfaction", ("integrator:*",)),
    ),
}


def rules_for(service: str) -> dict[tuple[str, str], Rule]:
    """The table rows of one service (plus the probes and docs every service has)."""
    return {(r.method, r.path): r for r in (*COMMON, *ACCESS.get(service, ()))}


def webhook_paths(services: Iterable[str] | None = None) -> dict[str, str]:
    """Path → webhook source of every signed route (used by signing test clients)."""
    names = ACCESS.keys() if services is None else services
    return {r.path: r.webhook for s in names for r in ACCESS.get(s, ()) if r.webhook}


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, included routers flattened."""
    found = []
    for context in iter_route_contexts(app.routes):
        for method in sorted(context.methods or ()):
            if method != "HEAD" and context.path:
                found.append((method, context.path))
    return found


def match_route(app: FastAPI, scope: dict) -> tuple[str, dict[str, str]] | None:
    """The path template and path parameters of the route that would handle this request."""
    compiled = getattr(app.state, "_kcc_route_patterns", None)  # State keeps attributes in its own dict
    if compiled is None:
        compiled = []
        for context in iter_route_contexts(app.routes):
            if context.path and context.methods:
                regex, _, convertors = compile_path(context.path)
                compiled.append((regex, convertors, context.path, set(context.methods)))
        app.state._kcc_route_patterns = compiled
    method = "GET" if scope["method"] == "HEAD" else scope["method"]
    for regex, convertors, path, methods in compiled:
        found = regex.match(scope["path"])
        if found and method in methods:
            return path, {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
    return None


def _challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += ', error_description="' + description.replace('"', "'")[:200] + '"'
    return {"WWW-Authenticate": value}


def _deny(code: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=code, headers=headers)


def install_access_guard(
    app: FastAPI,
    *,
    service: str,
    validator: TokenValidator,
    resources: Mapping[str, ResourceLoader] | None = None,
    webhooks: WebhookVerifier | None = None,
    rate_limiter: "Any | None" = None,
) -> None:
    """Authenticate, authorise (table, department scope), verify webhook signatures, limit rate."""
    table = rules_for(service)
    loaders = dict(resources or {})
    for rule in table.values():
        if rule.resource is not None and rule.resource not in loaders:
            raise ValueError(f"{service}: {rule.method} {rule.path} needs resource loader {rule.resource!r}")
        if rule.webhook is not None and webhooks is None:
            raise ValueError(f"{service}: {rule.method} {rule.path} is a signed webhook but no verifier is configured")

    async def guard(request: Request) -> Response | None:
        """The answer that refuses the request, or None to let it through."""
        matched = match_route(app, request.scope)
        method = "GET" if request.method == "HEAD" else request.method
        rule = table.get((method, matched[0])) if matched else None
        if rule is not None and rule.public:
            return None

        client = request.client.host if request.client else "unknown"
        token = bearer(request.headers.get("authorization"))
        if token is None:
            # Counted like a bad token: a burst of anonymous or malformed requests is limited too.
            if rate_limiter is not None and (retry := rate_limiter.take(f"addr:{client}")) is not None:
                return _too_many(retry)
            return _deny(401, "a bearer token is required", _challenge())
        try:
            principal = await validator.validate(token)
        except InvalidToken as exc:
            if rate_limiter is not None and (retry := rate_limiter.take(f"addr:{client}")) is not None:
                return _too_many(retry)
            return _deny(401, f"invalid token: {exc}", _challenge("invalid_token", str(exc)))
        if rate_limiter is not None and (retry := rate_limiter.take(f"sub:{principal.subject}")) is not None:
            return _too_many(retry)
        request.state.principal = principal
        if matched is None:
            return None  # the app answers 404 or 405
        if rule is None:
            log.error("route not in the access table", extra={"method": method, "route": matched[0]})
            return _deny(403, f"{method} {matched[0]} is not in the access table", _challenge("insufficient_scope"))

        params = {**request.query_params, **matched[1]}
        grant = rule.grant(principal, params)
        if grant is None:
            return _deny(
                403, f"{method} {rule.path} needs one of the roles {', '.join(rule.allow)}", _challenge("insufficient_scope")
            )
        try:
            if grant == "resource":
                owner = await loaders[rule.resource](request, matched[1])
                if owner is not MISSING and owner not in principal.scoped("department"):
                    return _deny(404, f"no {rule.resource} {', '.join(matched[1].values())} in your department")
            if rule.webhook is not None:
                await webhooks.verify(  # type: ignore[union-attr]
                    source=rule.webhook,
                    body=await request.body(),
                    timestamp=request.headers.get(TIMESTAMP_HEADER),
                    signature_header=request.headers.get(SIGNATURE_HEADER),
                    path=rule.path,
                )
        except InvalidSignature as exc:
            return _deny(401, f"webhook signature refused: {exc}", {"WWW-Authenticate": f'KCC-Signature realm="{REALM}"'})
        except (PyMongoError, KafkaError) as exc:
            log.error("dependency unavailable", extra={"path": request.url.path, "error": repr(exc)})
            return JSONResponse(
                {"detail": f"store unavailable, retry later: {type(exc).__name__}"}, status_code=503, headers={"Retry-After": "5"}
            )
        return None

    app.add_middleware(Gate, decide=guard)


class Gate:
    """ASGI middleware: `decide(request)` answers the request itself (a response) or lets it
    through (None), untouched. `@app.middleware("http")` (Starlette's BaseHTTPMiddleware) would
    stream every response through a task group and memory streams: at intake's rate, a large
    share of the CPU per request for a guard that never looks at the response."""

    def __init__(self, app: ASGIApp, *, decide: Callable[[Request], Awaitable[Response | None]]) -> None:
        self.app, self.decide = app, decide

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        answer = await self.decide(request)
        if answer is not None:
            await answer(scope, receive, send)
            return
        body: bytes | None = getattr(request, "_body", None)
        if body is None:
            await self.app(scope, receive, send)
            return
        replayed = False  # the decision read the body (a webhook's signature): the route reads it again

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_many(retry_after_s: float) -> JSONResponse:
    seconds = max(1, int(retry_after_s + 0.999))
    return JSONResponse(
        {"detail": f"too many requests, retry after {seconds} s"}, status_code=429, headers={"Retry-After": str(seconds)}
    )


def document_access(app: FastAPI, *, service: str, rate_limited: bool = False) -> None:
    """Put the table into the OpenAPI document: bearer security, roles, 401/403, signature headers."""
    table = rules_for(service)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = table.get((method.upper(), path))
                if rule is None or rule.public:
                    continue
                operation["security"] = [{"bearer": []}]
                operation["x-kcc-roles"] = list(rule.allow)
                roles = ", ".join(f"`{r}`" for r in rule.allow)
                operation["description"] = (operation.get("description") or "") + f"\n\nRoles: {roles}."
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {"description": "No valid bearer token (or webhook signature)"})
                responses.setdefault("403", {"description": "The token's roles do not allow this route"})
                if rule.resource is not None:
                    responses.setdefault("404", {"description": "No such record in the caller's department"})
                if rate_limited:
                    responses.setdefault("429", {"description": "Rate limit exceeded; see Retry-After"})
                responses.setdefault("413", {"description": "Request body larger than allowed"})
                if rule.webhook is not None:
                    operation["description"] += f" Signed webhook (source `{rule.webhook}`): see the README."
                    operation.setdefault("parameters", []).extend(
                        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                        for name in (TIMESTAMP_HEADER, SIGNATURE_HEADER)
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def markdown_table() -> str:
    """The table as the README shows it (a unit test keeps the two the same)."""
    lines = ["| service | method | route | roles |", "|---|---|---|---|"]
    for service, rules in ACCESS.items():
        for r in rules:
            notes = f" (department of the {r.resource})" if r.resource else ""
            notes += f"; signed webhook `{r.webhook}`" if r.webhook else ""
            roles = ", ".join(f"`{role}`" for role in r.allow)
            lines.append(f"| {service} | {r.method} | `{r.path}` | {roles}{notes} |")
    lines.append("| every service | GET | `/healthz`, `/readyz`, `/metrics`, `/docs`, `/redoc`, `/openapi.json` | public |")
    for r in COMMON:
        if not r.public:
            lines.append(f"| every service | {r.method} | `{r.path}` | {', '.join(f'`{role}`' for role in r.allow)} |")
    return "\n".join(lines)
