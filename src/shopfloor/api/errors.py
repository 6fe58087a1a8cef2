"""Errors as RFC 9457 problem details (``application/problem+json``), the same shape for every endpoint.

Every refusal is a :class:`shopfloor.errors.DomainError`; this module maps its kind to the HTTP status, in one
place (``STATUS``).  The body carries the error's stable ``code`` and its ``params`` (for a client to act on or
translate), ``detail`` (its message in the language of the request's ``Accept-Language``, English by default)
and, for several problems at once, ``problems``.  Request-validation errors become ``request.invalid`` with one
coded problem per field.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shopfloor import errors as e
from shopfloor.i18n import accepted_language, error_translation

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)

# The HTTP status of each kind of refusal; the first base class of an error found here decides.
STATUS: dict[type[e.DomainError], int] = {
    e.Unreadable: 400,
    e.NotSignedIn: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.Conflict: 409,
    e.TooLarge: 413,
    e.UnsupportedMedia: 415,
    e.Invalid: 422,
    e.TooManyAttempts: 429,
    e.Unavailable: 503,
    e.Fault: 500,
}
TITLES = {
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
    500: "Server error",
    503: "Service unavailable",
}

# A page answers a refusal with a page of its own (the composition root installs the web's); the API, with JSON.
PageAnswer = Callable[[Request, e.DomainError, int], Awaitable[Response | None]]


def status_of(error: e.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 422


def headers_of(error: e.DomainError) -> dict[str, str] | None:
    if isinstance(error, e.NotSignedIn) and not isinstance(error, e.WrongSecret):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, e.SignInThrottled):
        return {"Retry-After": str(error.params["seconds"])}
    return None


def problem_body(request: Request, error: e.DomainError, status: int) -> dict[str, Any]:
    translation = error_translation(accepted_language(request.headers.get("accept-language")) or "en")
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": error.code,
        "params": error.params,
        "detail": error.translated(translation),  # for several problems, their summary; each is in problems
        "instance": request.url.path,
    }
    if isinstance(error, e.Problems):
        body["problems"] = [{**p.to_dict(), "message": p.translated(translation)} for p in error.problems]
    return body


def problem_response(request: Request, error: e.DomainError) -> JSONResponse:
    status = status_of(error)
    return _SafeJSONResponse(problem_body(request, error, status), status_code=status, media_type=PROBLEM,
                             headers=headers_of(error))  # fmt: skip


class _SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: a problem that quotes the request (a lone surrogate in a key, say) can always
    be encoded, so a refusal never turns into a server error."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=str).encode(
            "ascii"
        )


# -- request validation: each pydantic error type as a coded problem ------------------------------------------
def _field(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "body"


def _limit(ctx: dict[str, Any], *keys: str) -> Any:
    return next((ctx[k] for k in keys if k in ctx), "")


def field_error(item: dict[str, Any]) -> e.FieldError:
    """One pydantic validation error as a coded problem (its field, and the limit it broke)."""
    kind, ctx, field = item.get("type", ""), item.get("ctx") or {}, _field(tuple(item.get("loc", ())))
    simple: dict[str, type[e.FieldError]] = {
        "missing": e.FieldMissing,
        "float_parsing": e.FieldNotNumber,
        "float_type": e.FieldNotNumber,
        "decimal_parsing": e.FieldNotNumber,
        "decimal_type": e.FieldNotNumber,
        "int_parsing": e.FieldNotWholeNumber,
        "int_type": e.FieldNotWholeNumber,
        "int_from_float": e.FieldNotWholeNumber,
        "bool_parsing": e.FieldNotBoolean,
        "bool_type": e.FieldNotBoolean,
        "string_type": e.FieldNotText,
        "string_unicode": e.FieldNotText,
        "list_type": e.FieldNotList,
        "tuple_type": e.FieldNotList,
        "dict_type": e.FieldNotObject,
        "model_type": e.FieldNotObject,
        "model_attributes_type": e.FieldNotObject,
        "datetime_parsing": e.FieldNotDateTime,
        "datetime_type": e.FieldNotDateTime,
        "datetime_from_date_parsing": e.FieldNotDateTime,
        "date_parsing": e.FieldNotDate,
        "date_type": e.FieldNotDate,
        "date_from_datetime_parsing": e.FieldNotDate,
        "timezone_aware": e.FieldNoTimeZone,
        "finite_number": e.FieldNotFinite,
        "json_invalid": e.FieldNotJson,
        "extra_forbidden": e.FieldUnknown,
    }
    if kind in simple:
        return simple[kind](field=field)
    if kind in ("string_too_short", "too_short"):
        return e.FieldTooShort(field=field, min_length=_limit(ctx, "min_length"))
    if kind in ("string_too_long", "too_long"):
        return e.FieldTooLong(field=field, max_length=_limit(ctx, "max_length"))
    if kind == "string_pattern_mismatch":
        return e.FieldPattern(field=field, pattern=_limit(ctx, "pattern"))
    if kind == "greater_than_equal":
        return e.FieldTooSmall(field=field, limit=_limit(ctx, "ge"))
    if kind == "greater_than":
        return e.FieldNotAbove(field=field, limit=_limit(ctx, "gt"))
    if kind == "less_than_equal":
        return e.FieldTooLarge(field=field, limit=_limit(ctx, "le"))
    if kind == "less_than":
        return e.FieldNotBelow(field=field, limit=_limit(ctx, "lt"))
    if kind in ("literal_error", "enum"):
        return e.FieldChoice(field=field, expected=_limit(ctx, "expected"))
    if kind in ("decimal_max_places", "decimal_max_digits", "decimal_whole_digits"):
        return e.FieldTooManyDecimals(field=field, decimal_places=_limit(ctx, "decimal_places", "max_digits"))
    return e.FieldOther(field=field, reason=item.get("msg", kind))


class RequestInvalid(e.RequestInvalid):
    """The validation problems of one request, each with its field; ``items`` keeps pydantic's own list."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__([field_error(item) for item in items])
        self.items = items


def install(app: FastAPI, page_answer: PageAnswer | None = None) -> None:
    """Answer every refusal as a problem; ``page_answer`` may answer one asked for by a page with a page."""

    async def answer(request: Request, error: e.DomainError) -> Response:
        if page_answer is not None:
            page = await page_answer(request, error, status_of(error))
            if page is not None:
                return page
        response = problem_response(request, error)
        if isinstance(error, RequestInvalid):
            body = json.loads(response.body)
            body["errors"] = [
                {"loc": [str(p) for p in item.get("loc", ())], "msg": item.get("msg", ""), "type": item.get("type", "")}
                for item in error.items
            ]
            return _SafeJSONResponse(body, status_code=422, media_type=PROBLEM)
        return response

    @app.exception_handler(e.DomainError)
    async def _domain(request: Request, exc: e.DomainError):
        return await answer(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return await answer(request, e.NotFoundHere(path=request.url.path))
        if exc.status_code == 405:
            response = problem_response(request, e.MethodNotAllowed(method=request.method))
            response.status_code = 405
            body = json.loads(response.body)
            body.update(status=405, title=TITLES[405])
            return _SafeJSONResponse(body, status_code=405, media_type=PROBLEM, headers=exc.headers)
        title = TITLES.get(exc.status_code, "Error")
        body = {"type": "about:blank", "title": title, "status": exc.status_code, "instance": request.url.path}
        if isinstance(exc.detail, str) and exc.detail != title:
            body["detail"] = exc.detail
        return _SafeJSONResponse(body, status_code=exc.status_code, media_type=PROBLEM, headers=exc.headers)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError):
        # A number beyond what the store's columns hold (an identifier of 2**70, say): the request is refused.
        return await answer(request, e.OutOfRange())

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError):
        return await answer(request, e.OutOfRange())

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception):
        # A failure of the server itself: logged with a reference the person can quote, answered as a refusal
        # (a page in their language for a browser); the page itself may fail when the store is what failed.
        reference = uuid.uuid4().hex[:8]
        log.error("request %s %s failed (reference %s)", request.method, request.url.path, reference, exc_info=exc)
        fault = e.ServerFault(reference=reference)
        try:
            return await answer(request, fault)
        except Exception:  # noqa: BLE001 - the page could not be made: the problem document, which always can
            return problem_response(request, fault)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return await answer(request, RequestInvalid(list(exc.errors())))


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem codes an endpoint can return."""
    schema = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string", "description": "Stable code of the refusal, e.g. lot.not_found"},
            "params": {"type": "object", "description": "The values the message names"},
            "detail": {"description": "The message, in the language of Accept-Language (English by default)"},
            "problems": {"type": "array", "items": {"type": "object"}, "description": "Each problem, coded"},
            "instance": {"type": "string"},
        },
    }
    return {c: {"description": TITLES.get(c, "Error"), "content": {PROBLEM: {"schema": schema}}} for c in codes}


def problem_openapi(app: FastAPI) -> None:
    """Document every 422 answer as what it is, a problem (``application/problem+json``): FastAPI lists its own
    validation error shape for any operation with parameters, but this application answers every refusal,
    validation included, as a problem."""

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
