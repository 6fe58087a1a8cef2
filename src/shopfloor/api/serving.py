"""The HTTP connection of ``shopfloor serve``: uvicorn's h11 protocol with the limits it lacks.

uvicorn closes a kept-alive connection that stays idle (``timeout_keep_alive``), but waits for ever for the rest
of a request's headers or body, and accepts every connection: 21,000 clients that never finish their headers
use up the process's file descriptors and nobody else is served.  This protocol

* closes a connection whose request headers have not all arrived ``header_timeout`` seconds after its first
  byte (or after the connection opened),
* closes a connection whose request body pauses for more than ``body_timeout`` seconds between two parts while
  the application waits for it,
* closes a new connection at once when ``max_connections`` are open already (the file descriptors stay bounded;
  the slow ones above make room within ``header_timeout``).

Settings: ``SHOPFLOOR_HEADER_TIMEOUT_S``, ``SHOPFLOOR_BODY_TIMEOUT_S``, ``SHOPFLOOR_MAX_CONNECTIONS`` (and
``SHOPFLOOR_KEEP_ALIVE_S`` for uvicorn's own).
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("shopfloor.serving")

MAX_HEADER_BYTES = 16 * 1024  # h11's limit on an incomplete request head (uvicorn's default as well)


def guarded_protocol(header_timeout: float, body_timeout: float, max_connections: int) -> type[H11Protocol]:
    """An ``H11Protocol`` class with these limits, for ``uvicorn.Config(http=...)``."""

    class GuardedH11Protocol(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _phase: str | None = None  # "head" or "body": what the timer is waiting for

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= max_connections:
                log.warning("connection refused: %d connections open already", len(self.connections))
                transport.abort()
                self.transport = transport
                return
            super().connection_made(transport)
            self._arm("head", header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self in self.connections or self.flow is not None:
                super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            state = self.conn.their_state
            if state is h11.IDLE:
                if self._phase != "head" and not self.transport.is_closing():
                    self._arm("head", header_timeout)  # the first bytes of the next request's head
            elif state is h11.SEND_BODY:
                self._arm("body", body_timeout)  # every part of the body restarts the pause
            else:
                self._disarm()

        def on_response_complete(self) -> None:
            self._disarm()
            super().on_response_complete()

        def _arm(self, phase: str, seconds: float) -> None:
            if phase == "head" and self._phase == "head":
                return  # the head's deadline runs from its first byte: trickling more does not extend it
            self._disarm()
            self._phase = phase
            self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._phase = None, None

        def _expired(self) -> None:
            cycle = self.cycle
            if self._phase == "body" and cycle is not None and (cycle.body or cycle.response_started):
                # The application has not yet taken what arrived, or is answering: the client is not the slow one.
                self._timer = self.loop.call_later(body_timeout, self._expired)
                return
            log.info("connection from %s closed: request %s too slow", self.client, self._phase)
            self._timer, self._phase = None, None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol
