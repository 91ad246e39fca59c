"""REST serving of a saved run (``mlpilot serve``): see ``create_app``."""

from __future__ import annotations

from mlpilot.serve.app import create_app

__all__ = ["create_app"]
