"""Read Optuna's tables with one SELECT each, instead of building an ORM object per row.

Optuna's ``get_all_trials`` is the portable way, but it builds ORM objects for every value,
param and attribute row: about 3 s for a 10,000-trial study, most of a dashboard page's budget.
The schema read here (``studies``, ``trials``, ``trial_values``, ``trial_params``,
``trial_user_attributes``) has been stable since Optuna 3.0; if it ever changes, the caller
falls back to Optuna's API (see :func:`automl.storage.reads.load_trials`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, Integer, String, Text, cast, column, select, table
from sqlalchemy.engine import Connection

_studies = table("studies", column("study_id", Integer), column("study_name", String))
_trials = table(
    "trials", column("trial_id", Integer), column("number", Integer), column("study_id", Integer),
    column("state", String), column("datetime_start", DateTime),
    column("datetime_complete", DateTime),
)
_values = table("trial_values", column("trial_id", Integer), column("objective", Integer),
                column("value", Float), column("value_type", String))
_params = table("trial_params", column("trial_id", Integer), column("param_name", String),
                column("param_value", Float), column("distribution_json", Text))
_user_attrs = table("trial_user_attributes", column("trial_id", Integer), column("key", String),
                    column("value_json", Text))

_heartbeats = table("trial_heartbeats", column("trial_id", Integer),
                    column("heartbeat", DateTime))

# PostgreSQL stores these as ENUM types: compare their text, which works on every backend.
_STATE = cast(_trials.c.state, String)
_VALUE_TYPE = cast(_values.c.value_type, String)

_SPECIAL = {"INF_POS": float("inf"), "INF_NEG": float("-inf")}


@dataclass
class OptunaTrial:
    number: int
    state: str
    datetime_start: datetime | None
    datetime_complete: datetime | None
    values: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)  # the READ_ATTRS this trial has


# User attributes copied onto trial records (beside "reason"): the validation split's size, the
# trial a repeat was answered from, cross-validation figures (or why a contender has none), the
# recent validation accuracy, the test accuracy of every class, the training split's class
# counts, the seconds of the training call outside its epochs and a fitted start's own
# leave-one-out figure.
READ_ATTRS = ("val_samples", "duplicate_of", "cv_accuracy", "cv_std", "cv_loss", "cv_folds",
              "cv_samples", "cv_skipped", "val_recent", "test_per_class", "class_counts",
              "lead_seconds", "loo_accuracy", "loo_samples")


@functools.lru_cache(maxsize=4096)
def _distribution(blob: str) -> Any:
    from optuna.distributions import json_to_distribution

    return json_to_distribution(blob)


def read_trials(conn: Connection, study_name: str, number: int | None = None
                ) -> list[OptunaTrial] | None:
    """Trials of a study in number order (or just trial ``number``); None: no such study."""
    study_id = conn.execute(
        select(_studies.c.study_id).where(_studies.c.study_name == study_name)
    ).scalar()
    if study_id is None:
        return None
    q = select(_trials).where(_trials.c.study_id == study_id).order_by(_trials.c.number)
    if number is not None:
        q = q.where(_trials.c.number == number)
    by_id: dict[int, OptunaTrial] = {}
    for r in conn.execute(q):
        by_id[r.trial_id] = OptunaTrial(r.number, r.state, r.datetime_start, r.datetime_complete)
    if not by_id:
        return []
    ids = select(_trials.c.trial_id).where(_trials.c.study_id == study_id)
    if number is not None:
        ids = ids.where(_trials.c.number == number)
    values: dict[int, list[tuple[int, float]]] = {}
    for r in conn.execute(select(_values).where(_values.c.trial_id.in_(ids))):
        v = _SPECIAL.get(r.value_type, r.value)
        values.setdefault(r.trial_id, []).append((r.objective, v))
    for tid, vals in values.items():
        by_id[tid].values = [v for _, v in sorted(vals)]
    for r in conn.execute(select(_params).where(_params.c.trial_id.in_(ids))):
        dist = _distribution(r.distribution_json)
        by_id[r.trial_id].params[r.param_name] = dist.to_external_repr(r.param_value)
    attrs = select(_user_attrs).where(_user_attrs.c.trial_id.in_(ids),
                                      _user_attrs.c.key.in_(("reason", *READ_ATTRS)))
    for r in conn.execute(attrs):
        if r.key == "reason":
            by_id[r.trial_id].reason = json.loads(r.value_json)
        else:
            by_id[r.trial_id].attrs[r.key] = json.loads(r.value_json)
    return list(by_id.values())


def study_stats(conn: Connection) -> dict[str, dict[str, Any]]:
    """Per study: trial counts by state, best first objective of completed trials, and the
    latest start/completion time, each with one GROUP BY (no per-trial rows are loaded)."""
    from sqlalchemy import and_, func

    joined = _studies.join(_trials, _studies.c.study_id == _trials.c.study_id)
    out: dict[str, dict[str, Any]] = {}
    for name, state, n in conn.execute(
        select(_studies.c.study_name, _STATE, func.count())
        .select_from(joined).group_by(_studies.c.study_name, _STATE)
    ):
        out.setdefault(name, {"states": {}, "best": None, "last": None})["states"][str(state)] = (
            int(n))
    best = (
        select(_studies.c.study_name, func.max(_values.c.value))
        .select_from(joined.join(_values, _values.c.trial_id == _trials.c.trial_id))
        .where(and_(_STATE == "COMPLETE", _values.c.objective == 0, _VALUE_TYPE == "FINITE"))
        .group_by(_studies.c.study_name)
    )
    for name, value in conn.execute(best):
        out[name]["best"] = value
    latest = (
        select(_studies.c.study_name, func.max(_trials.c.datetime_start),
               func.max(_trials.c.datetime_complete))
        .select_from(joined).group_by(_studies.c.study_name)
    )
    for name, started, completed in conn.execute(latest):
        times = [t for t in (started, completed) if t is not None]
        out[name]["last"] = max(times) if times else None
    return out


def dead_trial_ids(conn: Connection, study_id: int, grace_s: float) -> list[int]:
    """RUNNING trials whose worker is presumed dead: its last heartbeat is older than
    ``grace_s`` by the database's clock (Optuna's own stale-trial rule, which writes heartbeats
    with the database's ``now()``), or it never sent one and started more than ``grace_s`` ago
    (Optuna stores start times as naive UTC, from the worker's clock): a process that died
    between creating the trial and its first heartbeat, which Optuna's check would leave
    RUNNING forever."""
    from datetime import timedelta

    from sqlalchemy import and_, func, or_

    from automl.storage.schema import utcnow

    grace = timedelta(seconds=grace_s)
    db_now = conn.execute(select(func.now())).scalar_one()
    beat_before = db_now.replace(tzinfo=None) - grace  # as Optuna compares them
    q = (
        select(_trials.c.trial_id)
        .select_from(_trials.outerjoin(_heartbeats, _heartbeats.c.trial_id == _trials.c.trial_id))
        .where(
            _trials.c.study_id == study_id,
            _STATE == "RUNNING",
            or_(and_(_heartbeats.c.heartbeat.is_(None),
                     _trials.c.datetime_start < utcnow() - grace),
                _heartbeats.c.heartbeat < beat_before),
        )
    )
    return [int(r[0]) for r in conn.execute(q)]


@functools.cache
def _run_states_statement() -> Any:
    """:func:`run_states`' SELECT with ``study_id``, ``key`` and ``value_json`` bound: built
    once (a claim runs it under the lock every worker waits for)."""
    from sqlalchemy import and_, bindparam, case, exists, func, or_

    key, value_json = bindparam("key", type_=String), bindparam("value_json", type_=String)
    tag, reason = _user_attrs.alias("tag"), _user_attrs.alias("reason")
    tagged = exists().where(tag.c.trial_id == _trials.c.trial_id, tag.c.key == key,
                            tag.c.value_json == value_json)
    why = case((_STATE == "FAIL", reason.c.value_json), else_=None)
    return (
        select(_STATE, why, func.count())
        .select_from(_trials.outerjoin(reason, and_(reason.c.trial_id == _trials.c.trial_id,
                                                    reason.c.key == "reason")))
        .where(_trials.c.study_id == bindparam("study_id", type_=Integer),
               or_(_STATE == "WAITING", tagged))
        .group_by(_STATE, why)
    )


def run_states(conn: Connection, study_id: int, key: str, value_json: str
               ) -> list[tuple[str, Any, int]]:
    """One grouped SELECT: (state, reason, count) over the study's trials whose user attribute
    ``key`` is ``value_json`` (a run's trials), plus its WAITING trials whoever queued them.
    ``reason`` (the user attribute, decoded) is given for FAIL trials only: whether a failed
    trial counts depends on it (:func:`automl.control.loop.counts`)."""
    rows = conn.execute(_run_states_statement(),
                        {"study_id": study_id, "key": key, "value_json": value_json})
    return [(str(state), None if why is None else json.loads(why), int(n))
            for state, why, n in rows]


def waiting_trial_ids(conn: Connection, study_id: int, limit: int = 8) -> list[int]:
    """The study's first queued (WAITING) trials, in the order Optuna pops them (by number)."""
    q = (select(_trials.c.trial_id)
         .where(_trials.c.study_id == study_id, _STATE == "WAITING")
         .order_by(_trials.c.number).limit(limit))
    return [int(r[0]) for r in conn.execute(q)]


def trials_with_attr(conn: Connection, study_name: str, key: str, value_json: str
                     ) -> list[tuple[int, str]]:
    """(number, state) of the study's COMPLETE or PRUNED trials whose user attribute ``key``
    is ``value_json``, in number order."""
    q = (
        select(_trials.c.number, _STATE)
        .select_from(
            _trials.join(_studies, _studies.c.study_id == _trials.c.study_id)
            .join(_user_attrs, _user_attrs.c.trial_id == _trials.c.trial_id))
        .where(_studies.c.study_name == study_name, _user_attrs.c.key == key,
               _user_attrs.c.value_json == value_json, _STATE.in_(("COMPLETE", "PRUNED")))
        .order_by(_trials.c.number)
    )
    return [(int(n), str(s)) for n, s in conn.execute(q)]


def attr_values(conn: Connection, study_name: str, key: str) -> list[Any]:
    """The values of user attribute ``key`` over the study's COMPLETE trials."""
    q = (
        select(_user_attrs.c.value_json)
        .select_from(
            _trials.join(_studies, _studies.c.study_id == _trials.c.study_id)
            .join(_user_attrs, _user_attrs.c.trial_id == _trials.c.trial_id))
        .where(_studies.c.study_name == study_name, _user_attrs.c.key == key,
               _STATE == "COMPLETE")
    )
    return [json.loads(v) for (v,) in conn.execute(q)]
