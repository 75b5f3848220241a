"""``automl export | predict | serve | retrain``: registered by :func:`register` (issue 5)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the model-reuse commands to ``app`` (keeps heavy imports inside the commands)."""
