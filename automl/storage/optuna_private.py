"""The one use of Optuna internals the project makes, wrapped so a change in Optuna breaks
one function and its test (tests/automl/storage/test_optuna_private.py), not a search.

Everything else goes through Optuna's public API: ``RDBStorage.record_heartbeat`` /
``get_heartbeat_interval`` / ``get_trial`` / ``set_trial_state_values`` /
``get_trial_id_from_study_id_trial_number``, ``optuna.storages.fail_stale_trials``,
``RetryHeartbeatStaleTrialCallback``, and ``Study.ask`` / ``tell`` / ``enqueue_trial``.
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
