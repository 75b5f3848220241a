"""Turn plain dicts (from TOML) into frozen config dataclasses, with one-line ConfigErrors.

The checks themselves are :mod:`trainer.settings`'s, read from each field's declaration (type,
choices, range), so a study file, ``--set`` and the trainer's own ``validate_config`` agree;
this module only turns their errors into the CLI's error type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.errors import ConfigError
from trainer import settings
from trainer.settings import SettingError


def build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys, bad types, values and ranges fail
    with a ConfigError naming ``where.key``."""
    try:
        return settings.build(cls, data, where)
    except SettingError as exc:
        raise ConfigError(str(exc)) from None
