"""Routes that authenticate before they read a body, and read no more than a stated number of bytes.

FastAPI reads and parses a request's body before it runs the route's dependencies, so an anonymous client could
make the server read and parse any amount before being told to sign in.  A route of ``LimitedRoute`` first looks
for the caller (a valid token or session: else 401 before a byte of the body is read), then refuses a body whose
``Content-Length`` is over the limit (413), and stops reading a body sent in chunks once it passes the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from shopfloor.api.deps import principal_of
from shopfloor.errors import PayloadTooLarge, SignInRequired

BODY_METHODS = {"POST", "PUT", "PATCH"}


def limited_route(limit: int) -> type[APIRoute]:
    """A route class whose requests carry at most ``limit`` bytes of body, read only once the caller is known."""
    shown = f"{limit // 1024} KiB"

    class LimitedRoute(APIRoute):
        body_limit = limit

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                if request.method in BODY_METHODS:
                    engine = request.app.state.engine
                    if await principal_of(request, engine) is None:
                        raise SignInRequired()
                    length = request.headers.get("content-length")
                    if length is not None and (not length.isdigit() or int(length) > limit):
                        raise PayloadTooLarge(limit=shown)
                    request = Request(request.scope, _capped(request.receive, limit, shown))
                    # read here, under the cap: the handler's parser would turn the refusal into a 400
                    await request.body()
                return await handler(request)

            return guarded

    return LimitedRoute


def _capped(receive, limit: int, shown: str):
    received = 0

    async def capped_receive():
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(limit=shown)
        return message

    return capped_receive
