"""Request guards for channel endpoints: 415 for non-JSON bodies, 413 for oversized ones."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def add_request_limits(app: FastAPI, *, max_body_bytes: int) -> None:
    @app.middleware("http")
    async def limits(request: Request, call_next):
        if request.method in {"POST", "PUT", "PATCH"}:
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return JSONResponse(
                    {"detail": f"content-type must be application/json, not {content_type or 'missing'}"}, status_code=415
                )
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
                return _too_large(max_body_bytes)
            body = await request.body()  # Starlette caches it for the route
            if len(body) > max_body_bytes:
                return _too_large(max_body_bytes)
        return await call_next(request)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"body larger than {limit} bytes"}, status_code=413)
