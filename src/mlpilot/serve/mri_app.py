"""The REST application for an MRI run: upload a fastMRI HDF5 volume, get its reconstruction back.

The answer is the file ``mlpilot mri reconstruct`` writes (fastMRI's reconstruction layout), made
by the same ``MriPredictor.reconstruct_file``. The upload is spooled to a file with a generated
name (the client's file name is only ever a label), and reconstruction runs in the threadpool, one
volume at a time per process (a lock, as for tabular scoring: scale out with ``--workers``).
"""

from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlpilot._version import __version__
from mlpilot.errors import DataError
from mlpilot.serve.common import USER_ERRORS, Settings, finish_app, new_app, spilled_upload

RECONSTRUCT = "/v1/reconstruct"
HDF5_MEDIA_TYPE = "application/x-hdf5"
MAX_ACCELERATION = 32
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class MriService:
    """The loaded ``MriPredictor`` and the lock that serialises reconstructions."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self._lock = threading.Lock()

    def reconstruct(self, upload: UploadFile, *, acceleration: int | None, seed: int | None) -> tuple[bytes, str]:
        """The reconstruction file's bytes and the upload's label (a safe file name, never used as a path)."""
        label = safe_name(upload.filename)
        with spilled_upload(upload, suffix=".h5") as source, tempfile.TemporaryDirectory(prefix="mlpilot-") as folder:
            out = Path(folder) / "reconstruction.h5"
            try:
                with self._lock:
                    self.predictor.reconstruct_file(source, out, acceleration=acceleration, seed=seed,
                                                    source_name=label)
            except DataError as exc:
                # The message names the spooled copy; the client knows its file by its own name.
                raise DataError(str(exc).replace(str(source), label)) from None
            except (ValueError, RuntimeError) as exc:
                # A readable file the model cannot take (e.g. a shape it was not built for) is the input's doing.
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise DataError(f"The model could not reconstruct '{label}' ({reason}); send a fastMRI volume "
                                "like the ones the run was trained on.") from None
            return out.read_bytes(), label

    def info(self) -> dict[str, Any]:
        manifest, predictor = self.predictor.manifest, self.predictor
        data = dict(manifest.get("data") or {})
        for key in ("train_volumes", "val_volumes"):  # counts, not file names
            data[key] = len(data.get(key) or [])
        return {
            "kind": "mri",
            "model": predictor.kind,
            "model_config": predictor.model_config.to_dict(),
            "mask_type": predictor.mask_type,
            "accelerations": predictor.accelerations,
            "recon_size": predictor.recon_size,
            "training": {"data": data, "steps": manifest.get("steps"), "best": manifest.get("best"),
                         "config": manifest.get("config")},
            "limits": {"max_acceleration": MAX_ACCELERATION},
            "run": {"path": str(predictor.path), "created_at": manifest.get("created_at"),
                    "trained_with": manifest.get("mlpilot_version")},
            "mlpilot_version": __version__,
        }


def safe_name(filename: str | None) -> str:
    """The upload's base name with only safe characters (it goes into a header and the output's attributes)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._")[:200]
    return cleaned or "upload.h5"


def build(predictor: Any, settings: Settings) -> FastAPI:
    """The app for a loaded ``MriPredictor`` (``create_app`` calls this for runs of kind "mri")."""
    service = MriService(predictor)
    description = (f"Reconstructs fastMRI volumes with the {predictor.kind} of the mlpilot run "
                   f"`{Path(settings.run_dir).name}`.")
    app, metrics = new_app(settings, title="mlpilot: MRI reconstruction", description=description, service=service,
                           model_summary="The reconstructor, its masks and training figures")
    _add_routes(app, service=service)
    return finish_app(app, settings, metrics=metrics, endpoints=frozenset({RECONSTRUCT}),
                      uploads=frozenset({RECONSTRUCT}))


def _add_routes(app: FastAPI, *, service: MriService) -> None:
    @app.post(RECONSTRUCT, tags=["reconstruct"], summary="Reconstruct an uploaded fastMRI volume",
              response_class=Response,
              responses={200: {"content": {HDF5_MEDIA_TYPE: {}}, "description": "fastMRI reconstruction file: "
                               "'reconstruction' float32 (slices, h, w), 'ismrmrd_header', attrs"}, **USER_ERRORS})
    async def reconstruct(
        file: Annotated[UploadFile, File(description="A fastMRI .h5 volume with a complex 'kspace' dataset.")],
        acceleration: Annotated[int | None, Form(
            ge=2, le=MAX_ACCELERATION,
            description="Treat the k-space as fully sampled and undersample it at this acceleration first.")] = None,
        seed: Annotated[int | None, Form(
            ge=0, lt=2**63, description="Seed of that mask (default: derived from the file name).")] = None,
    ) -> Response:
        content, label = await run_in_threadpool(service.reconstruct, file, acceleration=acceleration, seed=seed)
        name = label.removesuffix(".h5") + "_reconstruction.h5"
        return Response(content, media_type=HDF5_MEDIA_TYPE,
                        headers={"content-disposition": f'attachment; filename="{name}"'})
