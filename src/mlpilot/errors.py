"""User-facing errors.

Every error a user can cause by their input or their call is one of these. The message is one plain
sentence: what is wrong, where (column, row, field, file), and how to fix it. Interfaces print the
message without a traceback (the CLI exits non-zero; the REST API answers 4xx).
"""

from __future__ import annotations


class MlpilotError(Exception):
    """Base class of every error caused by the user's input or call."""


class DataError(MlpilotError):
    """The data cannot be used as given (missing file, empty table, bad target, wrong columns...)."""


class ConfigError(MlpilotError):
    """An argument or setting is invalid (unknown metric, bad time limit...)."""


class ArtifactError(MlpilotError):
    """A run directory cannot be loaded (missing, tampered with, incompatible version)."""
