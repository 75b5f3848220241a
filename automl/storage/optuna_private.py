"""The uses of Optuna internals the project makes, each wrapped in one function so a change in
Optuna breaks that function and its test (tests/automl/storage/test_lifecycle.py,
tests/automl/storage/test_optuna_trial.py), not a search.

Everything else goes through Optuna's public API: ``RDBStorage.record_heartbeat`` /
``get_heartbeat_interval`` / ``get_heartbeat_stale_trial_callback`` / ``get_trial`` /
``set_trial_state_values`` / ``set_trial_user_attr`` / ``get_trial_id_from_study_id_trial_number``,
``RetryHeartbeatStaleTrialCallback``, ``optuna.trial.create_trial``, ``optuna.Trial(study,
trial_id)`` and ``Study.get_trials`` / ``tell`` / ``enqueue_trial``.
(Optuna's raw tables, read for speed, are :mod:`automl.storage.optuna_tables`'s business; one
trial's rows, read and created through Optuna's table models,
:mod:`automl.storage.optuna_trial`'s.)
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


def remember_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Put a trial this worker has just started into the study's trial cache, as
    ``_CachedStorage.create_new_trial`` does for the trials it creates (suggesting parameters
    needs the cache to know the trial), and mark it unfinished, as
    ``_CachedStorage._read_trials_from_remote_storage`` does, so the cache reads it again once
    it ends (a queued trial popped here may be older than the last finished one the cache
    saw). Reading every running trial did the same at the cost of one row set per worker."""
    from optuna.storages._cached_storage import _CachedStorage, _StudyInfo

    storage = study._storage
    if not isinstance(storage, _CachedStorage):
        return
    with storage._lock:
        info = storage._studies.setdefault(study._study_id, _StudyInfo())
        storage._add_trials_to_cache(study._study_id, [trial])
        info.unfinished_trial_ids.add(trial._trial_id)
