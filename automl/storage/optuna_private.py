"""The uses of Optuna internals the project makes, each wrapped in one function so a change in
Optuna breaks that function and its test (tests/automl/storage/test_lifecycle.py,
tests/automl/storage/test_claims.py), not a search.

Everything else goes through Optuna's public API: ``RDBStorage.record_heartbeat`` /
``get_heartbeat_interval`` / ``get_heartbeat_stale_trial_callback`` / ``get_trial`` /
``set_trial_state_values`` / ``set_trial_user_attr`` / ``get_trial_id_from_study_id_trial_number``,
``RetryHeartbeatStaleTrialCallback``, ``optuna.trial.create_trial``, ``optuna.Trial(study,
trial_id)`` and ``Study.get_trials`` / ``tell`` / ``enqueue_trial``.
(Optuna's raw tables, read for speed, are :mod:`automl.storage.optuna_tables`'s business.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

# The system attribute in which ``Study.enqueue_trial`` keeps a queued trial's parameters
# (optuna/study/study.py, ``enqueue_trial``); Optuna offers no public reader of it.
FIXED_PARAMS_ATTR = "fixed_params"


def enqueued_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The parameters a trial was queued with (``Study.enqueue_trial``); {} if none."""
    return dict(trial.system_attrs.get(FIXED_PARAMS_ATTR) or {})


def new_running_trial(study: optuna.Study, user_attrs: dict[str, Any]) -> int:
    """Create a RUNNING trial with ``user_attrs`` in one transaction; returns its storage id.

    What ``Study.ask`` does (optuna/study/study.py, ``ask``), less its pop of a queued trial
    (which reads every trial) and its sampler set-up, plus the attributes, so that a worker's
    claim can count it at once. ``Study.add_trial`` does the same but returns no id; calling the
    study's storage itself (not the RDBStorage below it) keeps the study's trial cache aware of
    the trial, which suggesting parameters needs."""
    from optuna.trial import TrialState, create_trial

    template = create_trial(state=TrialState.RUNNING, user_attrs=user_attrs)
    return int(study._storage.create_new_trial(study._study_id, template_trial=template))
