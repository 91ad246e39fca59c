"""REST serving of a saved run (``mlpilot serve``): see ``create_app``."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so `mlpilot.serve.settings` (read by the CLI) can be imported without FastAPI.
    if name == "create_app":
        from mlpilot.serve.app import create_app

        return create_app
    raise AttributeError(name)
