"""A suggested parameter and a trial's end (automl/storage/optuna_trial.py) on SQLite and
PostgreSQL: one guarded write each, the same rows as Optuna's ORM sessions write, and the same
errors for a finished or missing trial."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from sqlalchemy import event

from automl.storage import Storage

FIELDS = ("number", "state", "values", "params", "distributions", "user_attrs",
          "intermediate_values")


def _play(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The same trials, whatever the storage: params of each kind (twice, so the second time
    the distribution is known), values with an infinity, a pruned and a failed trial."""
    for i in range(2):
        t = study.ask()
        t.suggest_float("x", 0.0, 1.0)
        t.suggest_int("n", 1, 9, log=True)
        t.suggest_categorical("c", ["a", None, 3])
        t.set_user_attr("i", i)
        study.tell(t, [float(i) / 4, -math.inf])
    pruned, failed = study.ask(), study.ask()
    pruned.suggest_float("x", 0.0, 1.0)
    study.tell(pruned, state=TrialState.PRUNED)
    study.tell(failed, state=TrialState.FAIL)
    return study.get_trials(deepcopy=False)


def test_params_and_ends_are_the_rows_optuna_writes(storage_url: str) -> None:
    st = Storage(storage_url)
    plain = optuna.storages.RDBStorage(storage_url)  # Optuna's own sessions, same database
    mine = _play(st.create_study("mine", directions=["maximize", "minimize"],
                                 sampler=optuna.samplers.RandomSampler(seed=3)))
    theirs = _play(optuna.create_study(storage=plain, study_name="theirs",
                                       directions=["maximize", "minimize"],
                                       sampler=optuna.samplers.RandomSampler(seed=3)))
    assert [t.state for t in mine] == [TrialState.COMPLETE] * 2 + [TrialState.PRUNED,
                                                                    TrialState.FAIL]
    for a, b in zip(mine, theirs, strict=True):
        for f in FIELDS:
            assert getattr(a, f) == getattr(b, f), f
        assert a.datetime_complete is not None and a.datetime_start is not None
        assert abs((a.datetime_complete - b.datetime_complete).total_seconds()) < 60  # local
    plain.engine.dispose()
    st.close()


def test_a_known_param_and_an_end_are_one_statement_each(storage_url: str) -> None:
    st = Storage(storage_url)
    rdb, dist = st._optuna, FloatDistribution(0.0, 1.0)
    study = st.create_study("one", direction="maximize")
    t = study.ask()
    seen: list[str] = []
    event.listen(rdb.engine, "before_cursor_execute",
                 lambda *a: seen.append(a[2].lstrip().split()[0].upper()))
    rdb._set_trial_param(t._trial_id, "x", 0.5, dist, dist)  # as Optuna's cache passes it
    assert seen == ["INSERT"]  # Optuna's session: SELECT the trial, then INSERT
    seen.clear()
    rdb.set_trial_state_values(t._trial_id, TrialState.COMPLETE, [0.25])
    assert seen == ["UPDATE", "INSERT"]  # Optuna's: SELECT FOR UPDATE, SELECT value, ...
    got = rdb.get_trial(t._trial_id)
    assert got.params == {"x": 0.5} and got.value == 0.25 and got.state == TrialState.COMPLETE
    st.close()


def test_finished_or_missing_trials_raise_what_optuna_raises(storage_url: str) -> None:
    st = Storage(storage_url)
    rdb = st._optuna
    study = st.create_study("err", direction="maximize")
    dist = FloatDistribution(0.0, 1.0)
    done = study.ask({"x": dist})
    study.tell(done, 1.0)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        rdb._set_trial_param(done._trial_id, "y", 0.5, dist, dist)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        rdb.set_trial_state_values(done._trial_id, TrialState.FAIL)
    with pytest.raises(KeyError):
        rdb._set_trial_param(10**9, "x", 0.5, dist, dist)
    with pytest.raises(KeyError):
        rdb.set_trial_state_values(10**9, TrialState.COMPLETE, [1.0])
    running = study.ask()
    with pytest.raises(ValueError):  # a distribution that does not match the study's
        rdb._set_trial_param(running._trial_id, "x", 0.5,
                             optuna.distributions.CategoricalDistribution(["a"]), dist)
    assert rdb.get_trial(running._trial_id).params == {}  # nothing written by the refusal
    # Transitions off the fast path keep Optuna's answers: WAITING -> RUNNING once only.
    study.enqueue_trial({"x": 0.5})
    waiting = next(t for t in study.get_trials() if t.state == TrialState.WAITING)
    assert rdb.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)
    assert not rdb.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)
    st.close()


def test_an_end_over_a_stored_value_updates_it(storage_url: str) -> None:
    """A value row already there (written by Optuna's own code): the guarded INSERT fails,
    its transaction is rolled back whole, and Optuna's way updates the row and ends the trial."""
    st = Storage(storage_url)
    rdb = st._optuna
    study = st.create_study("upd", direction="maximize")
    t = study.ask()
    with rdb.scoped_session() as s:  # a value on a running trial, as Optuna's session adds it
        trial = optuna.storages._rdb.models.TrialModel.find_or_raise_by_id(t._trial_id, s)
        rdb._set_trial_value_without_commit(s, trial, 0, 0.1)
        s.commit()
    assert rdb.set_trial_state_values(t._trial_id, TrialState.COMPLETE, [0.75])
    got = rdb.get_trial(t._trial_id)
    assert got.state == TrialState.COMPLETE and got.values == [0.75]
    st.close()
