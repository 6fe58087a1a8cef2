"""Nobody makes the server read a body before saying who they are, and nobody sends more than the route takes.

FastAPI reads and parses a request's body (and spools a multipart upload to disk) before it runs the route's
dependencies, so an anonymous 2 GiB upload was read before its 401.  This middleware runs first, for every request
with a body:

* a request to a route that is not public must name a valid session or API token: else it is answered at once
  (401, or the sign-in page for a page) without a byte of its body read, and the connection is closed;
* the body may be as large as the route takes: ``SHOPFLOOR_MAX_BODY_KB`` for forms and JSON, and
  ``SHOPFLOOR_MAX_UPLOAD_MB`` for the routes that take files (declared with ``openapi_extra=UPLOAD``).  A
  ``Content-Length`` over it is answered 413 (``request.too_large``) before reading; a body sent in chunks is
  cut off with the same answer once it passes the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopfloor.api.deps import principal_of
from shopfloor.api.errors import problem_response
from shopfloor.errors import DomainError, PayloadTooLarge, SignInRequired

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# The routes that take files: ``@router.post(..., openapi_extra=UPLOAD)``.
UPLOAD = {"x-body-limit": "upload"}


def _shown(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"


class BodyGuard:
    """ASGI middleware; ``routes`` gives the application's routes (walked once, at the first request),
    ``public`` the (method, path) pairs anyone may call, ``page_login`` the answer to an anonymous page."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], list[Any]],
        public: set[tuple[str, str]],
        body_limit: int,
        upload_limit: int,
        page_login: Callable[[Request], Response],
        headers: dict[str, str],
    ) -> None:
        self.app = app
        self._routes = routes
        self._table: list[tuple[Any, set[str], str, int]] | None = None
        self._matched: dict[tuple[str, str], tuple[str | None, int]] = {}  # (method, path) -> what _match found
        self.public = public
        self.body_limit = body_limit
        self.upload_limit = upload_limit
        self.page_login = page_login
        self.headers = headers

    def _build(self) -> list[tuple[Any, set[str], str, int]]:
        table = []
        for context in iter_route_contexts(self._routes()):
            route = context.original_route
            if not isinstance(route, APIRoute):
                continue
            extra = route.openapi_extra or {}
            limit = self.upload_limit if extra.get("x-body-limit") == "upload" else self.body_limit
            limit = min(limit, getattr(route, "body_limit", limit))
            regex, _, _ = compile_path(context.path)
            table.append((regex, set(context.methods or ()), context.path, limit))
        return table

    def _match(self, method: str, path: str) -> tuple[str | None, int]:
        found = self._matched.get((method, path))
        if found is not None:
            return found
        if self._table is None:
            self._table = self._build()
        found = None, self.body_limit
        for regex, methods, template, limit in self._table:
            if method in methods and regex.match(path):
                found = template, limit
                break
        if len(self._matched) >= 4096:  # paths with ids in them: the memory stays bounded
            self._matched.clear()
        self._matched[(method, path)] = found
        return found

    async def _answer(self, response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        for key, value in self.headers.items():
            response.headers.setdefault(key, value)
        response.headers["connection"] = "close"  # the unread body is not waited for
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        template, limit = self._match(scope["method"], scope["path"])
        if (scope["method"], template) not in self.public:
            try:
                principal = await principal_of(request, scope["app"].state.engine)
                refusal: DomainError | None = None if principal is not None else SignInRequired()
            except DomainError as exc:  # an unknown or revoked API token
                refusal = exc
            if refusal is not None:
                page = not scope["path"].startswith("/api/") and isinstance(refusal, SignInRequired)
                answer = self.page_login(request) if page else problem_response(request, refusal)
                await self._answer(answer, scope, receive, send)
                return
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._answer(problem_response(request, PayloadTooLarge(limit=_shown(limit))), scope, receive, send)
            return
        await self._capped(scope, receive, send, request, limit)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, request: Request, limit: int) -> None:
        received = 0
        cut = False  # the 413 was sent: what the application answers after it is dropped
        started = False

        async def capped_receive() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request" and not cut:
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    if not started:
                        answer = problem_response(request, PayloadTooLarge(limit=_shown(limit)))
                        await self._answer(answer, scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if cut:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not cut:
                raise
