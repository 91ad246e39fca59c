"""A saved GPT run, loaded: generate (streamed or whole), next-token view, evaluation, detection.

``GPTRun.stream`` is the function a server calls for ``POST /v1/generate``: it yields text pieces
as they are sampled and holds no state between calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from mlpilot.engine.artifact import read_manifest
from mlpilot.errors import ArtifactError, DataError
from mlpilot.tasks.gpt.checkpoint import load_weights
from mlpilot.tasks.gpt.config import SamplingConfig
from mlpilot.tasks.gpt.data import Tokenizer, load_tokenizer
from mlpilot.tasks.gpt.detect import Calibration, detect_text, score_ids
from mlpilot.tasks.gpt.finish import MODEL_DIR
from mlpilot.tasks.gpt.generate import next_token_probs, stream_text
from mlpilot.tasks.gpt.model import GPT, GPTConfig


class GPTRun:
    """A trained GPT with its tokenizer and detector calibration."""

    kind = "gpt"

    def __init__(
        self, *, path: Path, manifest: dict[str, Any], model: GPT, tokenizer: Tokenizer, calibration: Calibration
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.model = model
        self.tokenizer = tokenizer
        self.calibration = calibration

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> GPTRun:
        """Verify every file's checksum (``read_manifest``), then rebuild the model from its JSON config."""
        run = Path(path)
        manifest = read_manifest(run, kind="gpt")
        try:
            config = GPTConfig(**json.loads((run / MODEL_DIR / "config.json").read_text()))
            calibration = Calibration.from_dict(manifest["calibration"])
            tokenizer = load_tokenizer(run / "tokenizer.json")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"GPT run '{run}' is incomplete or damaged ({exc}); re-train it.") from exc
        model = GPT(config).to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        load_weights(model, run / MODEL_DIR / "model.safetensors")
        model.eval()
        return cls(path=run, manifest=manifest, model=model, tokenizer=tokenizer, calibration=calibration)

    @property
    def config(self) -> GPTConfig:
        return self.model.config

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.manifest.get("metrics", {}))

    @property
    def samples(self) -> list[str]:
        return list(self.manifest.get("samples", []))

    def stream(self, prompt: str = "", sampling: SamplingConfig | None = None) -> Iterator[str]:
        """Yield the continuation of ``prompt`` piece by piece (the prompt itself is not repeated)."""
        return stream_text(self.model, self.tokenizer, prompt, sampling or SamplingConfig())

    def generate(self, prompt: str = "", sampling: SamplingConfig | None = None) -> str:
        return "".join(self.stream(prompt, sampling))

    def next_tokens(self, prompt: str, *, top: int = 10) -> list[tuple[str, float]]:
        """The ``top`` most probable next tokens after ``prompt``, with their probabilities."""
        if top < 1:
            raise DataError(f"top must be at least 1, got {top}.")
        return next_token_probs(self.model, self.tokenizer, prompt, top=top)

    def evaluate(self, text: str) -> dict[str, float]:
        """Loss (nats per token), perplexity and bits per character of ``text`` under the model."""
        ids = torch.as_tensor(self.tokenizer.encode(text), dtype=torch.long, device=self._device)[None, :]  # (1, N)
        if ids.shape[1] < 2:
            raise DataError("The evaluation text is too short: give at least a sentence of text.")
        mean_ll = float(score_ids(self.model, ids)["log_likelihood"][0])
        n_predicted = ids.shape[1] - 1
        n_chars = max(1, len(self.tokenizer.decode(ids[0, 1:].tolist())))  # characters the model predicted
        total_bits = -mean_ll * n_predicted / math.log(2)
        return {
            "loss": -mean_ll,
            "perplexity": math.exp(-mean_ll),
            "bits_per_char": total_bits / n_chars,
            "bits_per_token": total_bits / n_predicted,
            "n_tokens": float(ids.shape[1]),
            "n_chars": float(n_chars),
        }

    def detect(self, text: str) -> dict[str, Any]:
        """Detection statistics of ``text``, the calibrated probability it is machine-made, and a verdict."""
        return detect_text(self.model, self.tokenizer, text, self.calibration)

    @property
    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        c = self.config
        return f"GPTRun('{self.path}', {c.n_layer}x{c.n_embd}, {self.tokenizer.kind} vocab {c.vocab_size})"
