"""The REST application for a GPT run: generate text (streamed or whole), next-token view, detection.

Sampling runs in the threadpool, never on the event loop, and one forward pass runs at a time per
process (a lock, as for tabular scoring: scale out with ``--workers``). The lock is taken per
sampled piece rather than per request, so concurrent streams take turns token by token and a
client that disconnects mid-stream can never leave the lock held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from mlpilot import api
from mlpilot._version import __version__
from mlpilot.serve.common import USER_ERRORS, Settings, finish_app, new_app

GENERATE, NEXT, DETECT = "/v1/generate", "/v1/next", "/v1/detect"
MAX_NEW_TOKENS = 1024  # a server limit: one request must not hold the model for minutes
MAX_TEXT_CHARS = 100_000
MAX_TOP = 100
DEFAULTS = api.SamplingConfig()  # the request's defaults are the task's, not a second copy of them
T = TypeVar("T")


class GenerateRequest(BaseModel):
    """What ``POST /v1/generate`` accepts: the prompt and ``SamplingConfig``'s settings."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field("", max_length=MAX_TEXT_CHARS, description="Text to continue (empty: start of a line).")
    max_new_tokens: int = Field(DEFAULTS.max_new_tokens, ge=0, le=MAX_NEW_TOKENS, description="Tokens to sample.")
    temperature: float = Field(DEFAULTS.temperature, ge=0, allow_inf_nan=False,
                               description="0 is greedy; higher is more random.")
    top_k: int | None = Field(DEFAULTS.top_k, ge=1, description="Sample among the k most probable tokens only.")
    top_p: float | None = Field(DEFAULTS.top_p, gt=0, le=1, description="Sample within this probability mass.")
    seed: int | None = Field(DEFAULTS.seed, ge=0, lt=2**63, description="Same seed, same settings: same text.")
    stream: bool = Field(True, description="Stream text/plain pieces as they are sampled; false: one JSON answer.")

    def sampling(self) -> api.SamplingConfig:
        return api.SamplingConfig(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                  top_k=self.top_k, top_p=self.top_p, seed=self.seed)


class GenerateResponse(BaseModel):
    text: str = Field(description="The continuation (the prompt is not repeated).")


class NextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field("", max_length=MAX_TEXT_CHARS)
    top: int = Field(10, ge=1, le=MAX_TOP, description="How many of the most probable next tokens.")


class TokenProbability(BaseModel):
    token: str
    probability: float


class NextResponse(BaseModel):
    tokens: list[TokenProbability]


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., min_length=1, max_length=MAX_TEXT_CHARS, description="The text to check.")


class GPTService:
    """The loaded run and the lock that serialises its forward passes."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self._lock = threading.Lock()

    def locked(self, work: Callable[[], T]) -> T:
        with self._lock:
            return work()

    def pieces(self, request: GenerateRequest) -> Iterator[str]:
        """The sampled pieces; each is computed under the lock (see the module docstring)."""
        stream = self.run.stream(request.prompt, request.sampling())
        sentinel = object()
        while (piece := self.locked(lambda: next(stream, sentinel))) is not sentinel:
            yield piece  # type: ignore[misc]

    def info(self) -> dict[str, Any]:
        manifest = self.run.manifest
        return {
            "kind": "gpt",
            "model": manifest.get("model"),
            "n_params": manifest.get("n_params"),
            "tokenizer": {"kind": manifest.get("tokenizer"), "vocab_size": (manifest.get("model") or {}).get(
                "vocab_size")},
            "training": {"corpus": manifest.get("corpus"), "data": manifest.get("data"),
                         "metrics": manifest.get("metrics"), "device": manifest.get("device")},
            "detector": {k: manifest.get("calibration", {}).get(k) for k in ("best", "threshold", "chunk_tokens")},
            "limits": {"max_new_tokens": MAX_NEW_TOKENS, "max_text_chars": MAX_TEXT_CHARS, "max_top": MAX_TOP},
            "run": {"path": str(self.run.path), "created_at": manifest.get("created_at"),
                    "trained_with": manifest.get("mlpilot_version")},
            "mlpilot_version": __version__,
        }


def build(run: Any, settings: Settings) -> FastAPI:
    """The app for a loaded ``GPTRun`` (``create_app`` calls this for runs of kind "gpt")."""
    service = GPTService(run)
    description = (f"Generates text with the GPT of the mlpilot run `{Path(settings.run_dir).name}`, shows the "
                   "next-token distribution and flags machine-generated text.")
    app, metrics = new_app(settings, title="mlpilot: GPT text generation", description=description, service=service,
                           model_summary="The model's sizes, tokenizer and training figures")
    _add_routes(app, service=service)
    return finish_app(app, settings, metrics=metrics, endpoints=frozenset({GENERATE, NEXT, DETECT}))


def _add_routes(app: FastAPI, *, service: GPTService) -> None:
    @app.post(GENERATE, tags=["generate"], summary="Continue a prompt", response_model=None,
              responses={200: {"model": GenerateResponse, "content": {"text/plain": {}},
                               "description": "text/plain pieces when stream is true, else JSON"}, **USER_ERRORS})
    async def generate(body: GenerateRequest) -> StreamingResponse | JSONResponse:
        pieces = service.pieces(body)
        if not body.stream:
            return JSONResponse({"text": await run_in_threadpool("".join, pieces)})
        # The first piece is sampled before answering, so a failure is still a clean 4xx, not a cut stream.
        first = await run_in_threadpool(next, pieces, "")
        return StreamingResponse(chain([first], pieces), media_type="text/plain; charset=utf-8")

    @app.post(NEXT, tags=["generate"], summary="The most probable next tokens", responses=USER_ERRORS)
    async def next_tokens(body: NextRequest) -> NextResponse:
        top = await run_in_threadpool(service.locked, lambda: service.run.next_tokens(body.prompt, top=body.top))
        return NextResponse(tokens=[TokenProbability(token=t, probability=p) for t, p in top])

    @app.post(DETECT, tags=["detect"], summary="Is this text machine-generated?", responses=USER_ERRORS)
    async def detect(body: DetectRequest) -> dict[str, Any]:
        return await run_in_threadpool(service.locked, lambda: service.run.detect(body.text))
