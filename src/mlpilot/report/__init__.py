"""Readable evaluations of a fitted run: Plotly charts, a plain-language summary and a self-contained
HTML report (``mlpilot report RUN_DIR``). Interface layer: it reaches the model through ``mlpilot.api``.

Everything works offline: the Plotly JavaScript comes from the installed ``plotly`` package, never a CDN.
"""

from __future__ import annotations

import functools


@functools.cache
def plotly_js() -> str:
    """The Plotly JavaScript bundle shipped inside the installed ``plotly`` package (about 4.8 MB)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
