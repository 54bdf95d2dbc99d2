"""The HTTP service of one bundle (FastAPI): ``POST /recommend``, ``GET /health``,
``GET /model``.

Every answer is JSON. Bad input is a 4xx naming the field (422), an oversize body a 413,
an unknown path a 404; the body never carries a traceback (an unexpected failure is a 500
saying to look at the server log, where the traceback goes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from autorec._io import json_safe
from autorec.serve._batcher import MicroBatcher
from autorec.serve._model import Answer, Query, ServedModel
from autorec.serve._schema import CustomerBody, SessionBody

__all__ = ["ServeOptions", "create_app"]

log = logging.getLogger("autorec.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ServeOptions:
    """Limits and batching of the service (the ``autorec serve`` options)."""

    max_k: int = 1000
    max_body_bytes: int = 1 << 20
    max_batch: int = 32
    max_wait_ms: float = 0.0


def _field(loc: tuple[Any, ...]) -> str:
    """``("body", "pages", 0)`` -> ``pages[0]``."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _invalid(fields: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse({"error": "invalid request", "fields": fields}, status_code=422)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with a 413 before the app reads them:
    by Content-Length when the client sends it, else while the chunks arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        total, last = 0, None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                last = message  # a disconnect: hand it on after the body
                break
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        await self.app(scope, self._replay(b"".join(chunks), last, receive), send)

    @staticmethod
    def _replay(body: bytes, last: Message | None, receive: Receive) -> Receive:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return last if last is not None else await receive()

        return replay

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(
            {
                "error": f"request body over {self.max_bytes} bytes",
                "fix": "send a shorter prefix, or start the server with a larger --max-body-kb",
            },
            status_code=413,
        )
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _answer_json(model: ServedModel, answer: Answer, k: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model_version": model.bundle.model_version,
        "k": k,
        "items": [
            {"item": i, "score": s} for i, s in zip(answer.items, answer.scores, strict=True)
        ],
        "used": answer.used,
        "unknown": answer.unknown,
        **answer.extra,
    }
    if not answer.items:
        out["note"] = "no known input, so no recommendation (offline tables skip these too)"
    return out


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        fields = []
        for e in err.errors():
            loc, problem = tuple(e.get("loc", ())), str(e.get("msg", "invalid"))
            if e.get("type") == "json_invalid":  # loc holds the character position
                where = f" at character {loc[1]}" if len(loc) > 1 else ""
                loc, problem = ("body",), f"is not valid JSON{where}"
            fields.append({"field": _field(loc), "problem": problem})
        return _invalid(fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(err.detail)}, status_code=err.status_code, headers=err.headers
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, err: Exception) -> JSONResponse:
        log.exception("scoring failed for %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "internal error while scoring; the server log has the details"},
            status_code=500,
        )


def create_app(bundle: str | Path | ServedModel, options: ServeOptions | None = None) -> FastAPI:
    """The FastAPI app serving ``bundle`` (a path is verified and loaded first: its
    manifest checksums are checked before any of its code is imported)."""
    opts = options or ServeOptions()
    model = bundle if isinstance(bundle, ServedModel) else ServedModel.load(bundle)
    batcher: MicroBatcher[Query, Answer] = MicroBatcher(
        model.answer, max_batch=opts.max_batch, max_wait_s=opts.max_wait_ms / 1000.0
    )
    started = time.monotonic()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.close()

    app = FastAPI(
        title="autorec serve",
        version=str(model.bundle.model_version),
        description=f"Top-K recommendations of the {model.family} bundle "
        f"{model.bundle.model_version}.",
        lifespan=lifespan,
    )
    app.state.model = model
    app.state.batcher = batcher
    _install_errors(app)

    def too_many(k: int) -> JSONResponse | None:
        if k <= opts.max_k:
            return None
        problem = (
            f"must be at most {opts.max_k} (the server's --max-k; the catalogue has "
            f"{model.n_items} items)"
        )
        return _invalid([{"field": "k", "problem": problem}])

    async def answer(query: Query, k: int) -> JSONResponse:
        result = await asyncio.wrap_future(batcher.submit(query))
        return JSONResponse(json_safe(_answer_json(model, result, k)))

    from autorec.families import get_family

    _ROUTE_FOR[get_family(model.family).entity](app, model, too_many, answer)

    @app.get("/health", summary="Liveness and counters")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model_version": model.bundle.model_version,
            "family": model.family,
            "uptime_s": round(time.monotonic() - started, 3),
            "queries": batcher.queries,
            "batches": batcher.batches,
        }

    @app.get("/model", summary="Genome key, metrics and data card of the bundle")
    async def describe() -> JSONResponse:
        return JSONResponse(json_safe(model.describe()))

    app.add_middleware(BodyLimit, max_bytes=opts.max_body_bytes)
    return app


_TooMany = Callable[[int], JSONResponse | None]
_Answer = Callable[[Query, int], Awaitable[JSONResponse]]


def _session_route(app: FastAPI, model: ServedModel, too_many: _TooMany, answer: _Answer) -> None:
    @app.post("/recommend", summary="Top-K items for a session prefix")
    async def recommend_session(body: SessionBody) -> JSONResponse:
        refused = too_many(body.k)
        if refused is not None:
            return refused
        query = model.prepare_session(body.pages, body.dwell, body.history, body.k)
        return await answer(query, body.k)


def _customer_route(app: FastAPI, model: ServedModel, too_many: _TooMany, answer: _Answer) -> None:
    @app.post("/recommend", summary="Top-K items for a customer's dated purchases")
    async def recommend_customer(body: CustomerBody) -> JSONResponse:
        refused = too_many(body.k)
        if refused is not None:
            return refused
        as_of = None if body.as_of is None else datetime.fromtimestamp(body.as_of, tz=timezone.utc)
        purchases = [(p.item, p.date) for p in body.purchases]
        return await answer(model.prepare_customer(purchases, as_of, body.k), body.k)


#: ``POST /recommend`` for each kind of entity a family recommends for.
_ROUTE_FOR = {"session": _session_route, "customer": _customer_route}
