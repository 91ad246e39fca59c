"""AdamW (decoupled weight decay) for the tabular neural net, without ``torch.optim``.

Why not ``torch.optim.AdamW``: constructing any ``torch.optim`` optimizer imports the compiler stack
(``torch._dynamo`` and sympy) the first time, with no switch to skip it: about 70 MB of resident
memory and a second of a 2-core machine's time, which a 60-s search pays in its peak memory and its
budget. The update below is the same rule as PyTorch's default CPU path (single tensor, no amsgrad);
``tests/tabular/test_adamw.py`` checks the two agree step by step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class AdamW:
    """``step()`` applies one AdamW update to every parameter with a gradient; ``zero_grad()`` clears them."""

    def __init__(self, params: Iterable[Any], *, lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        import torch

        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.first_moments = [torch.zeros_like(p) for p in self.params]
        self.second_moments = [torch.zeros_like(p) for p in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        import torch

        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1**self.steps)
        second_correction = math.sqrt(1 - beta2**self.steps)
        with torch.no_grad():
            for param, first, second in zip(self.params, self.first_moments, self.second_moments, strict=True):
                if param.grad is None:
                    continue
                grad = param.grad
                param.mul_(1 - self.lr * self.weight_decay)  # decoupled: decay the weights, not the gradient
                first.lerp_(grad, 1 - beta1)
                second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denominator = (second.sqrt() / second_correction).add_(self.eps)
                param.addcdiv_(first, denominator, value=-step_size)
