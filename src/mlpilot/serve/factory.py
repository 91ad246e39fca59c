"""App factory for ``uvicorn --factory``, which ``mlpilot serve`` always uses.

Several worker processes each import the app by name, so the settings travel in environment
variables set by ``mlpilot serve`` (the token included, so that it never needs to appear on a
worker's command line). The names live in ``mlpilot.serve.settings``, shared with ``mlpilot.cli.serve_cmd``.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from mlpilot.serve.app import create_app
from mlpilot.serve.settings import (
    CORS_ENV,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_UPLOAD_BYTES,
    IMPORT_STRING,
    MAX_REQUEST_ENV,
    MAX_ROWS_ENV,
    MAX_UPLOAD_ENV,
    RUN_DIR_ENV,
    THREADS_ENV,
    TOKEN_ENV,
)

__all__ = ["IMPORT_STRING", "app_from_env"]


def app_from_env() -> FastAPI:
    """Build the app from the ``MLPILOT_SERVE_*`` variables (and ``MLPILOT_TOKEN``)."""
    origins = [o for o in os.environ.get(CORS_ENV, "").split(",") if o]
    return create_app(
        os.environ[RUN_DIR_ENV],
        token=os.environ.get(TOKEN_ENV) or None,
        max_request_bytes=int(os.environ.get(MAX_REQUEST_ENV, DEFAULT_MAX_REQUEST_BYTES)),
        max_upload_bytes=int(os.environ.get(MAX_UPLOAD_ENV, DEFAULT_MAX_UPLOAD_BYTES)),
        max_rows=int(os.environ.get(MAX_ROWS_ENV, DEFAULT_MAX_ROWS)),
        cors_origins=origins or None,
        n_threads=int(os.environ[THREADS_ENV]) if os.environ.get(THREADS_ENV) else None,
    )

