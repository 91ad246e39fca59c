"""How ``mlpilot serve`` hands its settings to the app factory in each uvicorn worker.

Kept free of FastAPI imports so the command line can read it without loading the server stack.
"""

from __future__ import annotations

IMPORT_STRING = "mlpilot.serve.factory:app_from_env"  # what `mlpilot serve` hands to uvicorn
RUN_DIR_ENV = "MLPILOT_SERVE_RUN_DIR"
TOKEN_ENV = "MLPILOT_TOKEN"
MAX_REQUEST_ENV = "MLPILOT_SERVE_MAX_REQUEST_BYTES"
MAX_UPLOAD_ENV = "MLPILOT_SERVE_MAX_UPLOAD_BYTES"
MAX_ROWS_ENV = "MLPILOT_SERVE_MAX_ROWS"
CORS_ENV = "MLPILOT_SERVE_CORS_ORIGINS"
THREADS_ENV = "MLPILOT_SERVE_THREADS"  # threads per worker process for one prediction

MiB = 2**20
DEFAULT_MAX_REQUEST_BYTES = 10 * MiB
DEFAULT_MAX_UPLOAD_BYTES = 200 * MiB
DEFAULT_MAX_ROWS = 10_000
