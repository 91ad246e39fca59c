"""Sampling from a trained GPT: temperature, top-k, top-p, a key-value cache, and streaming.

Context policy: the model sees at most ``block_size`` positions (learned absolute positions). When
the context is full it drops its oldest half and starts over from position 0, with or without the
cache, so both modes always condition on the same tokens and give identical results; the cache is
rebuilt once per half block instead of recomputing the whole context at every token.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator

import torch

from mlpilot.tasks.gpt.config import SamplingConfig
from mlpilot.tasks.gpt.data import StreamDecoder, Tokenizer
from mlpilot.tasks.gpt.model import GPT, KVCache


def filter_logits(logits: torch.Tensor, *, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Set every token outside the top-k and outside the nucleus (top-p) to -inf. logits: (B, V)."""
    logits = logits.clone()
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits[logits < kth] = -math.inf
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (B, V)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
        # Drop a token when the tokens before it already reach p; the most likely one always stays.
        drop_sorted = (cum - sorted_logits.softmax(dim=-1)) >= top_p  # (B, V)
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocabulary order
        logits[drop] = -math.inf
    return logits


def pick(logits: torch.Tensor, config: SamplingConfig, generator: torch.Generator | None) -> torch.Tensor:
    """The next token of each row. logits: (B, V) -> (B,)."""
    if config.temperature == 0:
        return logits.argmax(dim=-1)
    scaled = filter_logits(logits.float() / config.temperature, top_k=config.top_k, top_p=config.top_p)
    probs = scaled.softmax(dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


@torch.no_grad()
def generate_ids(model: GPT, prompt: torch.Tensor, config: SamplingConfig) -> Iterator[torch.Tensor]:
    """Yield the next token of every row, one step at a time. prompt: (B, T0) token ids, T0 ≥ 1."""
    model.eval()
    device = prompt.device
    generator = torch.Generator(device=device)
    generator.manual_seed(config.seed if config.seed is not None else secrets.randbits(62))
    block = model.config.block_size
    ctx = prompt[:, -block:]  # (B, T)
    cache: KVCache | None = None
    fresh = True
    for _ in range(config.max_new_tokens):
        if config.use_cache:
            if fresh:
                cache = KVCache(model.config.n_layer)
                logits, _ = model(ctx, cache=cache)  # prefill: (B, T, V)
            else:
                logits, _ = model(ctx[:, -1:], cache=cache)  # one new position: (B, 1, V)
        else:
            logits, _ = model(ctx)  # (B, T, V)
        nxt = pick(logits[:, -1, :], config, generator)  # (B,)
        yield nxt
        ctx = torch.cat([ctx, nxt[:, None]], dim=1)  # (B, T+1)
        fresh = False
        if ctx.shape[1] > block:
            ctx = ctx[:, -(block // 2 + 1):]  # keep the newest half; positions restart at 0
            fresh = True


def encode_prompt(tokenizer: Tokenizer, prompt: str, device: str | torch.device) -> torch.Tensor:
    """Prompt ids (1, T0); an empty prompt starts from a newline, as if at the start of a line."""
    ids = tokenizer.encode(prompt if prompt else "\n")
    if len(ids) == 0:
        ids = tokenizer.encode("\n")
    return torch.as_tensor(ids, dtype=torch.long, device=device)[None, :]


def stream_text(model: GPT, tokenizer: Tokenizer, prompt: str, config: SamplingConfig) -> Iterator[str]:
    """Text pieces of the continuation of ``prompt`` as they are sampled (the prompt is not repeated)."""
    device = next(model.parameters()).device
    decoder = StreamDecoder(tokenizer)
    for token in generate_ids(model, encode_prompt(tokenizer, prompt, device), config):
        piece = decoder.push(int(token[0]))
        if piece:
            yield piece
    tail = decoder.flush()
    if tail:
        yield tail


@torch.no_grad()
def next_token_probs(model: GPT, tokenizer: Tokenizer, prompt: str, *, top: int = 10) -> list[tuple[str, float]]:
    """The ``top`` most probable next tokens after ``prompt`` and their probabilities."""
    model.eval()
    device = next(model.parameters()).device
    ids = encode_prompt(tokenizer, prompt, device)[:, -model.config.block_size:]  # (1, T)
    logits, _ = model(ids)  # (1, T, V)
    probs = logits[0, -1].float().softmax(dim=-1)  # (V,)
    values, indices = torch.topk(probs, min(top, probs.numel()))
    return [(tokenizer.decode([int(i)]), float(p)) for p, i in zip(values, indices, strict=True)]
