"""Errors of the export package; each is an :class:`AutomlError`, so the CLI prints one line."""

from __future__ import annotations

from automl.errors import AutomlError


class ExportError(AutomlError):
    """A trial cannot be exported: unknown, not complete, no weights, or ``--out`` is in use."""


class BundleError(AutomlError):
    """A bundle folder is missing a file, or its files do not agree with each other."""


class InputError(AutomlError):
    """Inputs for prediction have the wrong shape, type or values; the message says what fits."""
