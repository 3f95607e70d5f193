"""What one request may ask of ``lmlab serve`` (issue 23, "safe by default"): input length,
batch size, new tokens, beams, candidates, body size; and the gate that runs one model
call at a time with a bounded number of requests waiting, so memory stays that of one
request and a flood is refused (503) instead of queued without end.

Every refusal is a :class:`RequestError`: an HTTP status and a one-line message naming the
field and the server option that sets the limit.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Callable, TypeVar

Result = TypeVar("Result")


class RequestError(Exception):
    """A request the server refuses: ``status`` (4xx/503) and a one-line ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_chars: int = 2000
    """Characters per input text (``--max-chars``)."""
    max_batch: int = 16
    """Texts per request (``--max-batch``)."""
    max_new_tokens: int = 128
    """``max_new_tokens`` of /generate at most (``--max-new-tokens``)."""
    max_beams: int = 8
    """``num_beams`` of /generate at most."""
    max_top_k: int = 50
    """Candidates per [MASK] of /fill-mask, neighbours of /embed, at most."""
    max_body_bytes: int = 256 * 1024
    """Request body size (``--max-body-kb``): checked before the body is parsed."""
    max_queue: int = 64
    """Requests waiting for the model at once (``--max-queue``); more are refused (503)."""

    def validate(self) -> "Limits":
        for name, value in self.__dict__.items():
            if value < 1:
                raise ValueError(f"{name}: must be >= 1, got {value}")
        return self


def request_texts(text: str | None, texts: list[str] | None, limits: Limits) -> list[str]:
    """The inputs of a request that gives ``text`` (one) or ``texts`` (a batch)."""
    if (text is None) == (texts is None):
        raise RequestError(422, "text, texts: give exactly one (a string, or a list of strings "
                                "for a batch)")
    items = [text] if text is not None else list(texts or [])
    field = "text" if text is not None else "texts"
    if not items:
        raise RequestError(422, "texts: empty list; give at least one text")
    if len(items) > limits.max_batch:
        raise RequestError(422, f"texts: {len(items)} texts, more than this server's limit of "
                                f"{limits.max_batch} per request (lmlab serve --max-batch)")
    for index, item in enumerate(items):
        check_text(field if text is not None else f"texts[{index}]", item, limits)
    return items


def check_text(where: str, text: str, limits: Limits) -> None:
    """One input text: not empty, at most ``limits.max_chars`` characters."""
    if not text.strip():
        raise RequestError(422, f"{where}: empty text")
    if len(text) > limits.max_chars:
        raise RequestError(422, f"{where}: {len(text)} characters, more than this server's "
                                f"limit of {limits.max_chars} (lmlab serve --max-chars)")


def check_at_most(field: str, value: int, limit: int, option: str) -> None:
    """``value`` of request ``field`` is within this server's ``limit`` (set by ``option``)."""
    if value > limit:
        raise RequestError(422, f"{field}: {value}, more than this server's limit of {limit}"
                                f"{f' (lmlab serve {option})' if option else ''}")


class Gate:
    """One model call at a time, at most ``max_queue`` requests inside (running or waiting).

    ``enter``/``leave`` run on the event loop and count; ``call`` runs in a worker thread
    and holds the lock for the model call, so the count is the queue's length."""

    def __init__(self, max_queue: int):
        self.max_queue = max_queue
        self.inside = 0
        self._count = threading.Lock()
        self._model = threading.Lock()

    def enter(self) -> None:
        with self._count:
            if self.inside >= self.max_queue:
                raise RequestError(503, f"server busy: {self.inside} requests already queued "
                                        f"(lmlab serve --max-queue {self.max_queue}); retry later")
            self.inside += 1

    def leave(self) -> None:
        with self._count:
            self.inside -= 1

    def call(self, work: Callable[[], Result]) -> Result:
        with self._model:
            return work()


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is refused with 413 before it is
    parsed, by its Content-Length or, when streamed, as soon as the bytes read pass it
    (then the app is told the client disconnected, and its own answer is dropped)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _error(self, size: str) -> RequestError:
        return RequestError(413, f"request body: {size}, more than this server's limit of "
                                 f"{self.max_bytes} bytes (lmlab serve --max-body-kb)")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await send_json(send, self._error(f"{int(declared)} bytes"))
        received, refused = 0, False

        async def limited_receive():
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # answer 413 now; the app sees the client leave
                if not refused:
                    refused = True
                    await send_json(send, self._error(f"at least {received} bytes"))
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:  # whatever the app answers after the 413 is dropped
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


async def send_json(send, error: RequestError, headers: tuple = ()) -> None:
    """Answer an ASGI request with ``{"error": message}`` and the error's status."""
    body = json.dumps({"error": error.message}).encode()
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
