"""How every CLI command reports user mistakes: one sentence on stderr, exit status 1.

Kept apart from ``cli.main`` so sub-command modules (``gpt_cmd``, ...) can use it without importing
the main app, which imports them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from mlpilot.cli.display import err_console
from mlpilot.errors import MlpilotError

F = TypeVar("F", bound=Callable[..., Any])
_state = {"debug": False}  # set by the main app's --debug option


def user_errors(func: F) -> F:
    """Turn mlpilot's user-facing errors into one line on stderr and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MlpilotError as exc:
            if _state["debug"]:
                raise
            err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("Interrupted.")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
