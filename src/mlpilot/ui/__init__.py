"""The guided five-step web app (``mlpilot ui``): problem → data → train → evaluate → deploy."""

from __future__ import annotations

from typing import Any

__all__ = ["create_ui_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing the package (e.g. for its static files) does not load the server stack.
    if name == "create_ui_app":
        from mlpilot.ui.app import create_ui_app

        return create_ui_app
    raise AttributeError(name)
