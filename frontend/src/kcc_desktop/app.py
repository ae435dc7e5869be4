"""The desktop's server: the static app at `/`, and `/api/<service>/v1/...` forwarded to the service.

Forwarding (instead of the browser calling four services with CORS) keeps one origin: the browser
never learns the services' addresses, the services need no CORS settings, and the page can run
under a strict Content-Security-Policy (`'self'` only). The forwarder adds nothing: the caller's
own bearer token goes along unchanged and each service decides, with its access table, what the
caller may see. Only the services' public `/v1/` APIs are reachable this way."""

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from kcc_desktop.settings import DesktopSettings

STATIC = Path(__file__).parent / "static"
# Request headers a service needs; everything else (cookies, hop-by-hop headers) stays here.
FORWARDED_REQUEST = ("authorization", "content-type", "accept", "idempotency-key")
FORWARDED_RESPONSE = ("content-type", "www-authenticate", "retry-after")
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _problem(code: int, field: str, reason: str) -> JSONResponse:
    return JSONResponse({"detail": {"field": field, "reason": reason}}, status_code=code)


def dev_tokens(directory: Path | None) -> list[dict[str, str]]:
    """The development tokens `make up` wrote (`<role>.jwt`), without the services' own."""
    if directory is None or not directory.is_dir():
        return []
    found = []
    for file in sorted(directory.glob("*.jwt")):
        kind, _, rest = file.stem.partition("-")
        if kind == "service":
            continue
        found.append({"role": f"{kind}:{rest}" if rest else kind, "token": file.read_text(encoding="utf-8").strip()})
    return found


def create_app(settings: DesktopSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    services = settings.services()
    clients: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        clients["http"] = httpx.AsyncClient(timeout=settings.timeout_s, transport=transport)
        try:
            yield
        finally:
            await clients.pop("http").aclose()

    app = FastAPI(title="Contact.STAD agent desktop", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["cache-control"] = "no-store"
        return response

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/healthz", include_in_schema=False)
    @app.get("/readyz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/dev/tokens", include_in_schema=False)
    async def tokens() -> dict[str, Any]:
        """Development sign-in: the tokens of KCC_DESKTOP_DEV_TOKENS_DIR (none when unset)."""
        return {"tokens": dev_tokens(settings.dev_tokens_dir)}

    @app.api_route("/api/{service}/{path:path}", methods=["GET", "POST", "PUT", "DELETE"], include_in_schema=False)
    async def forward(service: str, path: str, request: Request) -> Response:
        base = services.get(service)
        if base is None:
            return _problem(404, "service", f"no service {service!r}: one of {', '.join(services)}")
        if not path.startswith("v1/") or ".." in path.split("/"):
            return _problem(404, "path", "only the services' /v1/ APIs are forwarded")
        headers = {name: value for name in FORWARDED_REQUEST if (value := request.headers.get(name)) is not None}
        try:
            answer = await clients["http"].request(
                request.method, f"{base}/{path}", params=request.url.query or None, content=await request.body(), headers=headers,
            )
        except httpx.TransportError as exc:
            return _problem(502, "service", f"{service} is not reachable ({type(exc).__name__})")
        kept = {name: value for name in FORWARDED_RESPONSE if (value := answer.headers.get(name)) is not None}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
