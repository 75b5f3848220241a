"""Whether a search may resume a study already in the database: the study-compatibility
checks, over what the database holds about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from automl.errors import ConfigError

if TYPE_CHECKING:
    from automl.storage.store import Storage


@dataclass(frozen=True)
class PriorStudy:
    """An existing study, as the database knows it."""

    name: str
    directions: list[str]  # "maximize" / "minimize", per objective
    n_trials: int
    ours: bool  # created (or adopted) by automl: it has the project's study row
    config: dict[str, Any] = field(default_factory=dict)  # the stored config ({} if not ours)


def find_study(storage: Storage, name: str) -> PriorStudy | None:
    """The Optuna study ``name`` in this database, or None."""
    directions = storage.optuna_studies().get(name)
    if directions is None:
        return None
    ours = name in storage.study_names()
    return PriorStudy(name, directions, len(storage.frozen_trials(name)), ours,
                      storage.study_config(name) if ours else {})


def check_resumable(prior: PriorStudy, where: str, *, directions: list[str], objective: str,
                    cost: str, data_hash: str, adopt: bool, metric: str = "accuracy") -> None:
    """Raise a one-line :class:`ConfigError` unless a search with these settings may add
    trials to ``prior`` (``where``: the masked storage URL, for the message)."""
    name = prior.name
    if not prior.ours and not adopt:
        raise ConfigError(
            f"study.name: study {name!r} in {where} was not created by automl; "
            "use another study.name, or set study.adopt = true to search it anyway"
        )
    if prior.directions != directions:
        raise ConfigError(
            f"study.objective: study {name!r} was created with directions {prior.directions}; "
            f"this run asks for {directions} (use another study.name)"
        )
    prev_cost = prior.config.get("study", {}).get("cost")
    if objective == "pareto" and prev_cost and prev_cost != cost:
        raise ConfigError(f"study.cost: study {name!r} minimizes {prev_cost!r}, not {cost!r}")
    stored = prior.config.get("study")
    prev_metric = stored.get("metric", "accuracy") if isinstance(stored, dict) else metric
    if prev_metric != metric:  # one objective may not mix two metrics
        raise ConfigError(f"study.metric: study {name!r} ranks by {prev_metric!r}, not "
                          f"{metric!r} (use another study.name)")
    prev_hash = prior.config.get("_data_hash")
    if prev_hash and prev_hash != data_hash:
        raise ConfigError(
            f"data.source: study {name!r} was searched on different data "
            f"(hash {prev_hash[:12]} != {data_hash[:12]}); use another study.name"
        )
