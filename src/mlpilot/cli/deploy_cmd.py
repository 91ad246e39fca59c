"""``mlpilot card``: the model card of a saved run, on stdout or into a file.

``fit`` already saves ``model_card.md`` in the run; this command renders it again elsewhere (to attach
or edit). It never writes inside the run directory: a saved run is checksummed and must stay exactly
as ``fit`` wrote it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlpilot import api
from mlpilot.cli.display import err_console
from mlpilot.errors import ConfigError


def card(
    run_dir: Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot fit`.")],
    out: Annotated[Path | None, typer.Option(help="Write the Markdown card to this file (default: stdout).")] = None,
) -> None:
    """Write the model card of a run: intended use, data, validation scores, threshold, limitations."""
    model = api.load(run_dir)
    text = api.render_model_card(model.manifest)
    if out is None:
        sys.stdout.write(text)
        return
    if _inside(out, model.path):
        raise ConfigError(f"'{out}' is inside the run directory, which must not change after saving; "
                          "write the card elsewhere with --out.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    err_console.print(f"Wrote the model card to {out}", highlight=False)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())
