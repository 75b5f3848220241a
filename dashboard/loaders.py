"""Cached, read-only data loading. Everything goes through :mod:`automl.storage`.

The storage handle is a shared resource (``st.cache_resource``); study data is cached
(``st.cache_data``) for ``TTL_S`` seconds, so that a running search shows up within seconds
while clicks between pages cost nothing. A study that takes longer to load stays cached
``SLOW_FACTOR`` times its load time instead, so that a huge study is not reloaded over and
over (see :func:`freshness`). Spinner texts never include the storage URL, which may hold a
password.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from automl.config import cost_or_default
from automl.storage import Storage, TrialRecord, open_storage, resolve_url
from dashboard import frames

TTL_S = 10
SLOW_FACTOR = 10  # a study that loads in 3 s is reloaded at most every 30 s
MAX_AGE_S = 600  # evicts stale entries (see freshness)
# Importance is slow on big studies (seconds per 10,000 trials); the number of completed
# trials is part of its cache key, so a long TTL never shows a stale ranking.
IMPORTANCE_TTL_S = 3600
EVALUATORS = ("PED-ANOVA", "fANOVA", "mean decrease impurity")


def storage_url() -> str:
    """``--storage URL`` after ``streamlit run app.py --``, else $AUTOML_STORAGE, else the
    default ``sqlite:///automl.db`` (the same rule as every other command)."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--storage" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--storage="):
            return arg.split("=", 1)[1]
    return resolve_url(os.environ.get("AUTOML_STORAGE"))


@st.cache_resource(show_spinner=False)
def storage(url: str) -> Storage:
    """One handle per URL for the whole server. A failure is not cached: a database that a
    search creates after the dashboard started is picked up on the next run."""
    return open_storage(url, create=False, readonly=True)


# key -> (stamp of the cached load, seconds it took); per server process, shared by sessions.
_loads: dict[tuple[str, ...], tuple[int, float]] = {}


def freshness(*key: str) -> int:
    """Seconds that data for ``key`` stays cached: ``TTL_S``, or ``SLOW_FACTOR`` times what
    loading it took last time. Pages poll at this interval too."""
    took = _loads.get(key, (0, 0.0))[1]
    return max(TTL_S, math.ceil(SLOW_FACTOR * took))


def _stamp(*key: str) -> int:
    """Part of the cache key: the stamp of the last load while it is fresh, else a new one
    (and so a reload)."""
    stamp = _loads.get(key, (0, 0.0))[0]
    now = int(time.time())
    return stamp if now - stamp < freshness(*key) else now


@contextlib.contextmanager
def _timed(stamp: int, *key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    _loads[key] = (stamp, time.perf_counter() - start)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def study_names(url: str) -> list[str]:
    return storage(url).study_names()


def studies(url: str) -> pd.DataFrame:
    """Every study's summary (one row each)."""
    return _studies(url, _stamp("studies", url))


@st.cache_data(ttl=MAX_AGE_S, max_entries=8, show_spinner="Loading studies…")
def _studies(url: str, stamp: int) -> pd.DataFrame:
    with _timed(stamp, "studies", url):
        return frames.studies_frame(storage(url).list_studies())


@dataclass(frozen=True)
class StudyData:
    """What the study page needs, in frames that unpickle fast from the cache."""

    cost: str
    objective: str
    leaderboard: pd.DataFrame
    params: pd.DataFrame
    pruner: str = "none"  # "none": no multi-fidelity pruning configured


def study_data(url: str, study: str) -> StudyData:
    """The study's leaderboard and searched parameters (cached, see :func:`freshness`)."""
    return _study_data(url, study, _stamp("study", url, study))


@st.cache_data(ttl=MAX_AGE_S, max_entries=16, show_spinner="Loading trials…")
def _study_data(url: str, study: str, stamp: int) -> StudyData:
    with _timed(stamp, "study", url, study):
        store = storage(url)
        section = store.study_config(study).get("study", {})
        cost = cost_or_default(section.get("cost"))
        objective = section.get("objective") or "pareto"
        records = store.trials(study)
        return StudyData(
            cost=cost,
            objective=objective,
            leaderboard=frames.leaderboard_frame(records, cost=cost),
            params=frames.params_frame(records),
            pruner=str(section.get("pruner") or "asha"),
        )


def curves(url: str, study: str) -> pd.DataFrame:
    """Every trial's per-epoch points, long format (see :func:`frames.curves_frame`)."""
    return _curves(url, study, _stamp("curves", url, study))


@st.cache_data(ttl=MAX_AGE_S, max_entries=4, show_spinner="Loading learning curves…")
def _curves(url: str, study: str, stamp: int) -> pd.DataFrame:
    with _timed(stamp, "curves", url, study):
        return frames.curves_frame(storage(url).trials(study, with_epochs=True))


@st.cache_resource(ttl=MAX_AGE_S, max_entries=4, show_spinner="Loading trials and curves…")
def _records(url: str, study: str, stamp: int) -> dict[int, TrialRecord]:
    # A resource, not data: unpickling 10,000 records with their specs on every page view
    # would cost most of a second, and the records are frozen, so sharing them is safe.
    with _timed(stamp, "records", url, study):
        return {r.number: r for r in storage(url).trials(study, with_epochs=True)}


def records(url: str, study: str) -> dict[int, TrialRecord]:
    """Every trial of the study with its epochs, by number (shared, do not modify)."""
    return _records(url, study, _stamp("records", url, study))


def trial(url: str, study: str, number: int) -> TrialRecord:
    """One trial with its epochs: a query for that trial alone (milliseconds at any size)."""
    return _trial(url, study, number, _stamp("trial", url, study, str(number)))


@st.cache_data(ttl=MAX_AGE_S, max_entries=64, show_spinner=False)
def _trial(url: str, study: str, number: int, stamp: int) -> TrialRecord:
    with _timed(stamp, "trial", url, study, str(number)):
        return storage(url).trial(study, number)


def trial_numbers(url: str, study: str) -> list[int]:
    """The study's trial numbers, from the (cached) study data the study page also uses."""
    return sorted(int(n) for n in study_data(url, study).leaderboard["trial"])


@st.cache_data(show_spinner=False, max_entries=256)
def layer_table(spec_json: str, level: str) -> tuple[list[dict[str, Any]], str]:
    """The layer table of a spec (keyed by its JSON: the same spec, the same network)."""
    import json

    from dashboard.archviz import layer_rows

    return layer_rows(json.loads(spec_json), level)


# What each evaluator's numbers are (Optuna normalizes all three to sum to 1).
IMPORTANCE_MEANING = {
    "PED-ANOVA": "PED-ANOVA score: how differently a parameter is spread among the best 10% "
                 "of trials than among all (normalized to sum to 1)",
    "fANOVA": "fANOVA: share of the variance of a random-forest fit of accuracy that the "
              "parameter explains alone (normalized to sum to 1)",
    "mean decrease impurity": "mean decrease in impurity of a random forest predicting "
                              "accuracy (normalized to sum to 1)",
}
IGNORED_WARNINGS = ("computes the importances of params to achieve low",)  # we negate on purpose


@dataclass(frozen=True)
class Importance:
    """Optuna's importances and what they rest on."""

    values: dict[str, float]
    evaluator: str
    n_trials: int  # completed trials Optuna evaluated
    warnings: tuple[str, ...]  # what Optuna warned about, for the page (not the server log)

    @property
    def meaning(self) -> str:
        return IMPORTANCE_MEANING[self.evaluator]


@st.cache_data(ttl=IMPORTANCE_TTL_S, show_spinner="Computing importance…", max_entries=16)
def importance(url: str, study: str, evaluator: str, n_complete: int) -> Importance:
    """Optuna's parameter importance for validation accuracy (objective 0).

    ``n_complete`` is only part of the cache key, so a finished trial triggers a recompute.
    Raises ValueError with a readable message when Optuna cannot evaluate the study.
    """
    import warnings

    import optuna
    from optuna.importance import (
        BaseImportanceEvaluator,
        FanovaImportanceEvaluator,
        MeanDecreaseImpurityImportanceEvaluator,
        PedAnovaImportanceEvaluator,
    )

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if n_complete < 2:
        raise ValueError("importance needs at least two completed trials")
    kinds: dict[str, Callable[[], BaseImportanceEvaluator]] = {
        "PED-ANOVA": PedAnovaImportanceEvaluator,
        "fANOVA": FanovaImportanceEvaluator,
        "mean decrease impurity": MeanDecreaseImpurityImportanceEvaluator,
    }
    loaded = storage(url).load_study(study)
    n_trials = len(loaded.get_trials(deepcopy=False,
                                     states=(optuna.trial.TrialState.COMPLETE,)))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Negated: PED-ANOVA ranks what leads to *low* targets; the others ignore the sign.
            values = optuna.importance.get_param_importances(
                loaded, evaluator=kinds[evaluator](), target=lambda t: -t.values[0]
            )
    except Exception as exc:  # Optuna refuses small or degenerate studies in several ways
        raise ValueError(f"{evaluator} could not evaluate this study: {exc}") from None
    said = dict.fromkeys(str(w.message) for w in caught
                         if not any(i in str(w.message) for i in IGNORED_WARNINGS))
    return Importance(dict(values), evaluator, n_trials, tuple(said))


def clear() -> None:
    """Forget every cached load (benchmarks and tests start cold with this)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    _loads.clear()
