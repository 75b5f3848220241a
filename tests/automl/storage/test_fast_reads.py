"""The raw-SQL reads of Optuna's tables (automl/storage/optuna_tables.py) equal Optuna's own API
on the same database, and the fallback through Optuna's API gives the same records."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from automl.storage import Storage, optuna_tables, reads
from automl.storage.optuna_tables import READ_ATTRS, OptunaTrial

DISTS = {
    "lr": FloatDistribution(1e-7, 1.0, log=True),
    "dropout": FloatDistribution(0.0, 0.5, step=0.1),
    "width": IntDistribution(8, 512, log=True),
    "depth": IntDistribution(1, 9, step=2),
    "act": CategoricalDistribution(["relu", "gelu", None, 3, 2.5, True]),
}


def _build(url: str) -> Storage:
    """A two-objective study with trials in every state, several kinds of parameter, user
    attributes read and not read, intermediate values and infinite objectives."""
    st = Storage(url)
    study = st.create_study("s", directions=["maximize", "minimize"])
    st.save_study("s", "pareto", "flops", {}, {})
    acts = DISTS["act"].choices
    for i, (state, values) in enumerate([
        (TrialState.COMPLETE, [0.9, 10.0]), (TrialState.COMPLETE, [0.5, math.inf]),
        (TrialState.COMPLETE, [-math.inf, 2.5]), (TrialState.PRUNED, None),
        (TrialState.FAIL, None), (TrialState.COMPLETE, [1.0, 1e30]),
    ]):
        params = {"lr": 10.0 ** -(i + 1), "dropout": 0.1 * (i % 5), "width": 8 * (i + 1),
                  "depth": 1 + 2 * (i % 5), "act": acts[i % len(acts)]}
        attrs = {"val_samples": 100 + i, "cv_accuracy": 0.5 + i / 100, "other": [i, "x"],
                 "val_recent": 0.25 + i / 10,
                 **({"reason": f"why {i}"} if state != TrialState.COMPLETE else {}),
                 **({"duplicate_of": 0} if i == 5 else {})}
        study.add_trial(create_trial(
            state=state, values=values, params=params, distributions=DISTS, user_attrs=attrs,
            intermediate_values={1: 0.1 * i, 2: math.nan if i == 3 else 0.2 * i}))
    running = study.ask({"lr": DISTS["lr"], "act": DISTS["act"]})
    running.set_user_attr("cv_folds", 5)
    study.enqueue_trial({"lr": 0.01, "width": 64}, user_attrs={"retry_of": 4})
    return st


def _expected(url: str, number: int | None = None) -> list[OptunaTrial]:
    """What Optuna's public API says, through a storage of its own."""
    loaded = optuna.load_study(study_name="s", storage=url)
    return [
        OptunaTrial(t.number, t.state.name, t.datetime_start, t.datetime_complete,
                    list(t.values or []), dict(t.params), t.user_attrs.get("reason"),
                    {k: t.user_attrs[k] for k in READ_ATTRS if k in t.user_attrs})
        for t in loaded.get_trials(deepcopy=False) if number is None or t.number == number
    ]


def test_fast_read_equals_optunas_api(storage_url: str) -> None:
    st = _build(storage_url)
    expected = _expected(storage_url)
    assert {t.state for t in expected} == {"COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"}
    with st.connection() as conn:
        assert optuna_tables.read_trials(conn, "s") == expected
        assert optuna_tables.read_trials(conn, "s", 2) == _expected(storage_url, 2)
        assert optuna_tables.read_trials(conn, "nope") is None
        stats = optuna_tables.study_stats(conn)["s"]
    assert reads.read_with_optuna_api(st, "s") == expected  # the fallback path
    assert reads.read_with_optuna_api(st, "s", 2) == _expected(storage_url, 2)
    loaded = optuna.load_study(study_name="s", storage=storage_url).get_trials(deepcopy=False)
    assert stats["states"] == {s: sum(t.state.name == s for t in loaded)
                               for s in {t.state.name for t in loaded}}
    assert stats["best"] == max(t.values[0] for t in loaded
                                if t.state.name == "COMPLETE" and math.isfinite(t.values[0]))
    st.close()


def test_load_trials_falls_back_to_optunas_api(storage_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    st = _build(storage_url)
    fast = st.trials("s", with_epochs=True)

    def changed_schema(*_a: object, **_k: object) -> None:
        raise OperationalError("SELECT ...", {}, Exception("no such column: trials.state"))

    monkeypatch.setattr(reads, "read_trials", changed_schema)
    assert st.trials("s", with_epochs=True) == fast
    assert st.trial("s", 3) == fast[3]
    st.close()
