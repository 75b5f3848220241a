"""One trial's rows in Optuna's tables: read in one statement, a running trial created in three.

``RDBStorage.get_trial`` loads the trial's row, then its params, values, intermediate values,
user and system attributes with one lazy SELECT each: six round trips, each building ORM
objects. A search asks for a running trial several times per trial (``optuna.Trial`` when it is
opened, ``Study.tell`` before and after it stores the result, the pruner at each report), and
with hundreds of workers those statements are most of the database's work and of each worker's
CPU per claim. :class:`ProjectRDBStorage` answers ``get_trial`` with one SELECT: the trial's row
joined to the union of its five kinds of child rows, read into transient Optuna models and
frozen by Optuna's own ``_build_frozen_trial_from_trial_model``, so the result is the
FrozenTrial Optuna would have built (tested field by field against it). One statement also
reads one snapshot, where six could see a write land between them.

:func:`insert_running_trial` creates a worker's RUNNING trial, tagged, on the connection that
holds the study's claim lock (its transaction commits when the lock is given back): three
statements (four with its first heartbeat) where ``create_new_trial`` takes seven in a session
of its own and ``record_heartbeat`` three more, each one a round trip. It numbers the trial as
Optuna does, under a lock on the study's row, so trials Optuna creates elsewhere
(``enqueue_trial``) never take the same number.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import optuna
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import (
    Float,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from automl.storage.schema import utcnow

_T = models.TrialModel.__table__
_S, _UA = models.StudyModel.__table__, models.TrialUserAttributeModel.__table__
_HB = models.TrialHeartbeatModel.__table__
_KINDS = (  # (kind, table, order column, name column, number column, text column)
    (1, models.TrialParamModel.__table__, "param_id", "param_name", "param_value",
     "distribution_json"),
    (2, models.TrialValueModel.__table__, "objective", "value_type", "value", None),
    (3, models.TrialIntermediateValueModel.__table__, "step", "intermediate_value_type",
     "intermediate_value", None),
    (4, models.TrialUserAttributeModel.__table__, "trial_user_attribute_id", "key", None,
     "value_json"),
    (5, models.TrialSystemAttributeModel.__table__, "trial_system_attribute_id", "key", None,
     "value_json"),
)


_ID = bindparam("trial_id", type_=Integer)


def _children() -> Any:
    """One trial's child rows as (kind, i, name, num, text); enum names read as text, which
    works on every backend (PostgreSQL stores them as ENUM types)."""
    parts = []
    for kind, t, order, name, num, text in _KINDS:
        parts.append(select(
            literal(kind, Integer).label("kind"), t.c[order].label("i"),
            cast(t.c[name], String).label("name"),
            (t.c[num] if num else cast(null(), Float)).label("num"),
            (t.c[text] if text else cast(null(), Text)).label("text"),
        ).where(t.c.trial_id == _ID))
    return union_all(*parts).subquery("c")


def _statement() -> Any:
    """The trial's row beside each of its child rows (one row with NULL children if none),
    for the trial whose id is bound as ``trial_id``: built once, compiled once per engine."""
    c = _children()
    return (select(_T.c.number, _T.c.state, _T.c.datetime_start, _T.c.datetime_complete,
                   c.c.kind, c.c.i, c.c.name, c.c.num, c.c.text)
            .select_from(_T.outerjoin(c, true()))
            .where(_T.c.trial_id == _ID)
            .order_by(c.c.kind, c.c.i))


TRIAL_STATEMENT = _statement()


def trial_model(trial_id: int, rows: list[Any]) -> models.TrialModel:
    """A transient ``TrialModel`` with its children, from :data:`TRIAL_STATEMENT`'s rows."""
    first = rows[0]
    kids: dict[int, list[Any]] = {1: [], 2: [], 3: [], 4: [], 5: []}
    for r in rows:
        if r.kind is None:
            continue
        if r.kind == 1:
            kids[1].append(models.TrialParamModel(param_id=r.i, param_name=r.name,
                                                  param_value=r.num, distribution_json=r.text))
        elif r.kind == 2:
            kids[2].append(models.TrialValueModel(
                objective=r.i, value=r.num,
                value_type=models.TrialValueModel.TrialValueType[r.name]))
        elif r.kind == 3:
            kids[3].append(models.TrialIntermediateValueModel(
                step=r.i, intermediate_value=r.num,
                intermediate_value_type=(
                    models.TrialIntermediateValueModel.TrialIntermediateValueType[r.name])))
        elif r.kind == 4:
            kids[4].append(models.TrialUserAttributeModel(key=r.name, value_json=r.text))
        else:
            kids[5].append(models.TrialSystemAttributeModel(key=r.name, value_json=r.text))
    t = models.TrialModel(trial_id=trial_id, number=first.number, state=first.state)
    t._datetime_start_utc, t._datetime_complete_utc = first.datetime_start, first.datetime_complete
    t.params, t.values, t.intermediate_values = kids[1], kids[2], kids[3]
    t.user_attributes, t.system_attributes = kids[4], kids[5]
    return t


class ProjectRDBStorage(optuna.storages.RDBStorage):
    """``RDBStorage`` whose ``get_trial`` is one statement (see the module's docstring)."""

    def get_trial(self, trial_id: int) -> optuna.trial.FrozenTrial:
        try:
            with self.engine.connect() as conn:
                rows = list(conn.execute(TRIAL_STATEMENT, {"trial_id": trial_id}))
        except SQLAlchemyError as exc:  # as Optuna's sessions report a failed statement
            raise optuna.exceptions.StorageInternalError(
                "An exception is raised while reading a trial.") from exc
        if not rows:
            raise KeyError(models.NOT_FOUND_MSG)
        return self._build_frozen_trial_from_trial_model(trial_model(trial_id, rows))


def insert_running_trial(conn: Connection, study_id: int, user_attrs: dict[str, Any],
                         beat: bool = False) -> FrozenTrial:
    """Create a RUNNING trial with ``user_attrs`` in ``conn``'s transaction (the caller
    commits); returns it as Optuna's ``create_new_trial`` would. Its number is the count of
    the study's trials before it, read under the study row's lock as Optuna reads it.
    ``beat``: with its first heartbeat, the row ``RDBStorage.record_heartbeat`` would add."""
    conn.execute(select(_S.c.study_id).where(_S.c.study_id == study_id).with_for_update())
    start = utcnow()  # naive UTC, as Optuna stores it
    row = conn.execute(
        insert(_T).from_select(
            ["number", "study_id", "state", "datetime_start"],
            select(func.count(_T.c.trial_id), literal(study_id, Integer),
                   literal(TrialState.RUNNING, _T.c.state.type),
                   literal(start, _T.c.datetime_start.type))
            .where(_T.c.study_id == study_id))
        .returning(_T.c.trial_id, _T.c.number)).one()
    if user_attrs:
        conn.execute(insert(_UA), [{"trial_id": row.trial_id, "key": k,
                                    "value_json": json.dumps(v)} for k, v in user_attrs.items()])
    if beat:  # by the server's clock, as Optuna beats; PostgreSQL's now() would be the time
        # this transaction began, before the wait for the claim lock
        now = func.clock_timestamp() if conn.dialect.name == "postgresql" else func.now()
        conn.execute(insert(_HB).values(trial_id=row.trial_id, heartbeat=now))
    return FrozenTrial(
        number=int(row.number), state=TrialState.RUNNING, value=None, values=None,
        datetime_start=start.replace(tzinfo=UTC).astimezone().replace(tzinfo=None),
        datetime_complete=None, params={}, distributions={}, user_attrs=dict(user_attrs),
        system_attrs={}, intermediate_values={}, trial_id=int(row.trial_id))
