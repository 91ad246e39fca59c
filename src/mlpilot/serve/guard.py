"""ASGI middleware in front of the model: request metrics, bearer-token check and body-size limit.

Both checks run before the application reads the body, so an unauthenticated or oversized upload
is refused without being buffered or spooled to disk. The size limit trusts ``Content-Length``
only to refuse early; the bytes actually received are counted too, since a chunked request has no
length and a client may lie about it.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body passes the limit; an HTTPException so that FastAPI's
    body parsing re-raises it unchanged instead of turning it into a generic 400."""

    def __init__(self, limit: int, advice: str) -> None:
        super().__init__(status_code=413, detail=_too_large_message(limit, advice))


SERVE_ADVICE = "send fewer rows per request, or raise the limit with `mlpilot serve --max-request-mb`"


def _too_large_message(limit: int, advice: str) -> str:
    return f"The request body is larger than this server's limit of {limit:,} bytes; {advice}."


async def send_json(send: Send, status: int, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def error_body(message: str) -> dict[str, Any]:
    return {"errors": [{"row": None, "column": None, "message": message}]}


class RequestGuard:
    """Token check (constant-time compare) and body-size limit, per path; ``advice`` ends the 413 message."""

    def __init__(
        self, app: ASGIApp, *, token: str | None, open_paths: frozenset[str], limit: int,
        limits: dict[str, int], advice: str = SERVE_ADVICE,
    ) -> None:
        self.app, self.token, self.open_paths, self.limit, self.limits = app, token, open_paths, limit, limits
        self.advice = advice

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.token and scope["path"] not in self.open_paths and scope["method"] != "OPTIONS":
            problem = self._auth_problem(scope)
            if problem:
                challenge = 'Bearer realm="mlpilot"' + (', error="invalid_token"' if "wrong" in problem else "")
                await send_json(send, 401, error_body(problem), [("www-authenticate", challenge)])
                return
        limit = self.limits.get(scope["path"], self.limit)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await send_json(send, 413, error_body(_too_large_message(limit, self.advice)))
            return
        await self._call_counted(scope, receive, send, limit)

    async def _call_counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, self.advice)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await send_json(send, 413, error_body(str(exc.detail)))

    def _auth_problem(self, scope: Scope) -> str | None:
        header = _header(scope, b"authorization")
        if header is None:
            return "This server needs a bearer token: send the header 'Authorization: Bearer <token>'."
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return "The bearer token is wrong; send the token the server was started with."
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


# --------------------------------------------------------------------------------------- metrics
class ServingMetrics:
    """Prometheus collectors in a registry of their own, so many apps can live in one process."""

    def __init__(self, *, run: str, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("mlpilot_http_requests", "HTTP requests by endpoint, method and status.",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("mlpilot_http_request_duration_seconds", "Request latency by endpoint.",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predicted_rows = Counter("mlpilot_predicted_rows", "Rows scored.", registry=self.registry)
        self.prediction_errors = Counter(
            "mlpilot_prediction_errors", "Rows rejected by validation, and predictions that failed.",
            registry=self.registry,
        )
        info = Gauge("mlpilot_model_info", "The run being served (value is always 1).", ["run", "version"],
                     registry=self.registry)
        info.labels(run=run, version=version).set(1)


class MetricsRecorder:
    """Outermost middleware: counts every response (401 and 413 included) and times it."""

    def __init__(self, app: ASGIApp, *, metrics: ServingMetrics, endpoints: frozenset[str]) -> None:
        self.app, self.metrics, self.endpoints = app, metrics, endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Unknown paths share one label: a scanner must not create a time series per URL it tries.
        endpoint = scope["path"] if scope["path"] in self.endpoints else "other"
        status = 500
        start = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.latency.labels(endpoint=endpoint).observe(time.perf_counter() - start)
            self.metrics.requests.labels(endpoint=endpoint, method=scope["method"], status=str(status)).inc()
