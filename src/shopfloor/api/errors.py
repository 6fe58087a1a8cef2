"""Errors as RFC 9457 problem details (``application/problem+json``), the same shape for every endpoint."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"


class Problem(Exception):
    def __init__(
        self, status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None, **extra: Any
    ):
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    request: Request, status: int, title: str, detail: Any = None, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "instance": request.url.path}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    return _SafeJSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class _SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: a problem that quotes the request (a lone surrogate in a key, say) can always
    be encoded, so a refusal never turns into a server error."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many attempts",
    503: "Service unavailable",
}


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(request, exc.status, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = _TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        return problem_response(request, exc.status_code, title, detail, getattr(exc, "headers", None))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError):
        # A number beyond what the store's columns hold (an identifier of 2**70, say): the request is refused.
        return problem_response(request, 422, "Invalid request", "a number in the request is out of range")

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError):
        return problem_response(request, 422, "Invalid request", "a value in the request is out of range")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(request, 422, "Invalid request", "the request does not match the schema", errors=errors)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem codes an endpoint can return."""
    schema = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {},
            "instance": {"type": "string"},
        },
    }
    return {c: {"description": _TITLES.get(c, "Error"), "content": {PROBLEM: {"schema": schema}}} for c in codes}


def problem_openapi(app: FastAPI) -> None:
    """Document every 422 answer as what it is, a problem (``application/problem+json``): FastAPI lists its own
    validation error shape for any operation with parameters, but this application answers every refusal,
    validation included, as a problem."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        problem = problem_responses(422)[422]
        for path in doc.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "422" in responses and PROBLEM not in responses["422"].get("content", {}):
                    responses["422"] = problem
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
