"""One trial's rows in Optuna's tables: read in one statement, a running trial created in three,
a parameter and a trial's end written in one each.

``RDBStorage.get_trial`` loads the trial's row, then its params, values, intermediate values,
user and system attributes with one lazy SELECT each: six round trips, each building ORM
objects. A search asks for a running trial several times per trial (``optuna.Trial`` when it is
opened, ``Study.tell`` before and after it stores the result, the pruner at each report), and
with hundreds of workers those statements are most of the database's work and of each worker's
CPU per claim. :class:`ProjectRDBStorage` answers ``get_trial`` with one SELECT: the trial's row
joined to the union of its five kinds of child rows, read into plain objects with the
attributes of Optuna's models (ORM instances cost most of a read's CPU) and frozen by Optuna's
own ``_build_frozen_trial_from_trial_model``, so the result is the FrozenTrial Optuna would have
built (tested field by field against it). One statement also reads one snapshot, where six
could see a write land between them.

:func:`insert_running_trial` creates a worker's RUNNING trial, tagged, on the connection that
holds the study's claim lock (its transaction commits when the lock is given back): three
statements (four with its first heartbeat) where ``create_new_trial`` takes seven in a session
of its own and ``record_heartbeat`` three more, each one a round trip. It numbers the trial as
Optuna does, under a lock on the study's row, so trials Optuna creates elsewhere
(``enqueue_trial``) never take the same number.

A suggested parameter and a trial's end are Optuna's ORM sessions too: each loads the trial's
row (and its value rows) to check that it is still running, then flushes the change, three to
four round trips and an ORM unit of work on the worker's CPU. :class:`ProjectRDBStorage` writes
them as one guarded statement each (``INSERT ... SELECT ... WHERE the trial is running``,
``UPDATE ... WHERE the trial is running`` and one INSERT of its values), and reads the trial
again only when nothing was written, to raise what Optuna raises. Cases off that path (a
parameter's first distribution in this process, one that does not match it, a trial put back
to RUNNING, a value row that already exists) go through Optuna's own code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import optuna
from optuna import distributions
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
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from automl.storage.schema import utcnow

_T = models.TrialModel.__table__
_S, _UA = models.StudyModel.__table__, models.TrialUserAttributeModel.__table__
_HB = models.TrialHeartbeatModel.__table__
_P, _V = models.TrialParamModel.__table__, models.TrialValueModel.__table__
_UPDATABLE = (TrialState.RUNNING, TrialState.WAITING)  # Optuna's check_trial_is_updatable
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

# The writes of a claim and of a trial, built once with their values bound (building a
# statement costs a worker more CPU than sending it).
# Bound names differ from column names: insert() and update() keep those for their own.
_SID, _TID = bindparam("sid", type_=Integer), bindparam("tid", type_=Integer)
_RUNNING = _T.c.state.in_(_UPDATABLE)
_PARAM = (insert(_P).from_select(  # rowcount is -1 for it on psycopg: RETURNING says
    ["trial_id", "param_name", "param_value", "distribution_json"],
    select(_TID, bindparam("name", type_=String), bindparam("value", type_=Float),
           bindparam("dist", type_=Text)).where(_T.c.trial_id == _TID, _RUNNING))
    .returning(_P.c.param_id))
_END = (update(_T).where(_T.c.trial_id == _TID, _RUNNING)
        .values(state=bindparam("new_state", type_=_T.c.state.type),
                datetime_complete=bindparam("done", type_=_T.c.datetime_complete.type)))
_STUDY_ROW = select(_S.c.study_id).where(_S.c.study_id == _SID).with_for_update()
_NEW = (insert(_T).from_select(
    ["number", "study_id", "state", "datetime_start"],
    select(func.count(_T.c.trial_id), _SID, literal(TrialState.RUNNING, _T.c.state.type),
           bindparam("start", type_=_T.c.datetime_start.type)).where(_T.c.study_id == _SID))
    .returning(_T.c.trial_id, _T.c.number))
# By the server's clock, as Optuna beats; PostgreSQL's now() would be the time the claim's
# transaction began, before its wait for the lock.
_BEAT = {pg: insert(_HB).values(trial_id=_TID, heartbeat=func.clock_timestamp() if pg
                                else func.now()) for pg in (True, False)}


def _local(utc: datetime | None) -> datetime | None:
    """A stored naive-UTC time as Optuna's ``TrialModel`` gives it: naive local time."""
    return None if utc is None else utc.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


def trial_model(trial_id: int, rows: list[Any]) -> SimpleNamespace:
    """The trial as the attributes Optuna's ``_build_frozen_trial_from_trial_model`` reads of a
    ``TrialModel`` and its children, from :data:`TRIAL_STATEMENT`'s rows. Plain objects, not
    ORM instances: instrumented instances cost most of a read's client CPU."""
    first = rows[0]
    kids: dict[int, list[SimpleNamespace]] = {1: [], 2: [], 3: [], 4: [], 5: []}
    for r in rows:
        if r.kind == 1:
            kids[1].append(SimpleNamespace(param_id=r.i, param_name=r.name, param_value=r.num,
                                           distribution_json=r.text))
        elif r.kind == 2:
            kids[2].append(SimpleNamespace(
                objective=r.i, value=r.num,
                value_type=models.TrialValueModel.TrialValueType[r.name]))
        elif r.kind == 3:
            kids[3].append(SimpleNamespace(
                step=r.i, intermediate_value=r.num,
                intermediate_value_type=(
                    models.TrialIntermediateValueModel.TrialIntermediateValueType[r.name])))
        elif r.kind in (4, 5):
            kids[r.kind].append(SimpleNamespace(key=r.name, value_json=r.text))
    return SimpleNamespace(
        trial_id=trial_id, number=first.number, state=first.state,
        datetime_start=_local(first.datetime_start),
        datetime_complete=_local(first.datetime_complete), params=kids[1], values=kids[2],
        intermediate_values=kids[3], user_attributes=kids[4], system_attributes=kids[5])


class ProjectRDBStorage(optuna.storages.RDBStorage):
    """``RDBStorage`` whose ``get_trial`` is one statement, and a parameter or a trial's end
    one guarded write (see the module's docstring)."""

    def get_trial(self, trial_id: int) -> optuna.trial.FrozenTrial:
        try:
            with self.engine.connect() as conn:
                rows = list(conn.execute(TRIAL_STATEMENT, {"trial_id": trial_id}))
        except SQLAlchemyError as exc:  # as Optuna's sessions report a failed statement
            raise optuna.exceptions.StorageInternalError(
                "An exception is raised while reading a trial.") from exc
        if not rows:
            raise KeyError(models.NOT_FOUND_MSG)
        model: Any = trial_model(trial_id, rows)  # the attributes the builder reads
        return self._build_frozen_trial_from_trial_model(model)

    def _set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                         distribution: distributions.BaseDistribution,
                         previous_distribution: distributions.BaseDistribution | None) -> None:
        """One ``INSERT ... SELECT`` guarded by the trial's state, when the caller knows the
        parameter's distribution in this study (Optuna's cache passes it after the first)."""
        if previous_distribution is None or not _compatible(previous_distribution, distribution):
            super()._set_trial_param(trial_id, param_name, param_value_internal, distribution,
                                     previous_distribution)  # Optuna's lookup, its errors
            return
        try:
            with self.engine.begin() as conn:
                written = conn.execute(_PARAM, {
                    "tid": trial_id, "name": param_name, "value": param_value_internal,
                    "dist": distributions.distribution_to_json(distribution)}).first()
                if written is None:
                    self._raise_not_updatable(conn, trial_id)
        except IntegrityError:
            pass  # the same parameter set twice at once: Optuna's session ignores it too
        except SQLAlchemyError as exc:
            raise _internal(exc) from exc

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        """A trial's end as one ``UPDATE`` guarded by its state, and one INSERT of its values;
        other transitions, and values already stored, through Optuna's own code."""
        if not state.is_finished():
            return super().set_trial_state_values(trial_id, state, values)
        try:
            with self.engine.begin() as conn:
                ended = conn.execute(_END, {"tid": trial_id, "new_state": state,
                                            "done": utcnow()}).rowcount
                if not ended:
                    self._raise_not_updatable(conn, trial_id)
                if values is not None:
                    conn.execute(insert(_V), [
                        dict(zip(("value", "value_type"),
                                 models.TrialValueModel.value_to_stored_repr(v), strict=True),
                             trial_id=trial_id, objective=i) for i, v in enumerate(values)])
        except IntegrityError:  # a value row exists: rolled back whole, Optuna's way updates it
            return super().set_trial_state_values(trial_id, state, values)
        except SQLAlchemyError as exc:
            raise _internal(exc) from exc
        return True

    def _raise_not_updatable(self, conn: Connection, trial_id: int) -> None:
        """Nothing was written: raise what Optuna raises (no such trial, or a finished one)."""
        state = conn.execute(select(_T.c.state).where(_T.c.trial_id == trial_id)).scalar()
        if state is None:
            raise KeyError(models.NOT_FOUND_MSG)
        self.check_trial_is_updatable(trial_id, state)
        raise optuna.exceptions.StorageInternalError(  # a running trial the guard did not see
            f"trial {trial_id} is {state.name} but was not written")


def _compatible(old: distributions.BaseDistribution, new: distributions.BaseDistribution
                ) -> bool:
    try:
        distributions.check_distribution_compatibility(old, new)
    except ValueError:
        return False
    return True


def _internal(exc: SQLAlchemyError) -> optuna.exceptions.StorageInternalError:
    """A failed statement, reported as Optuna's sessions report one."""
    return optuna.exceptions.StorageInternalError(
        f"An exception is raised while writing a trial: {type(exc).__name__}")


def insert_running_trial(conn: Connection, study_id: int, user_attrs: dict[str, Any],
                         beat: bool = False) -> FrozenTrial:
    """Create a RUNNING trial with ``user_attrs`` in ``conn``'s transaction (the caller
    commits); returns it as Optuna's ``create_new_trial`` would. Its number is the count of
    the study's trials before it, read under the study row's lock as Optuna reads it.
    ``beat``: with its first heartbeat, the row ``RDBStorage.record_heartbeat`` would add."""
    conn.execute(_STUDY_ROW, {"sid": study_id})
    start = utcnow()  # naive UTC, as Optuna stores it
    row = conn.execute(_NEW, {"sid": study_id, "start": start}).one()
    if user_attrs:
        conn.execute(insert(_UA), [{"trial_id": row.trial_id, "key": k,
                                    "value_json": json.dumps(v)} for k, v in user_attrs.items()])
    if beat:
        conn.execute(_BEAT[conn.dialect.name == "postgresql"], {"tid": row.trial_id})
    return FrozenTrial(
        number=int(row.number), state=TrialState.RUNNING, value=None, values=None,
        datetime_start=start.replace(tzinfo=UTC).astimezone().replace(tzinfo=None),
        datetime_complete=None, params={}, distributions={}, user_attrs=dict(user_attrs),
        system_attrs={}, intermediate_values={}, trial_id=int(row.trial_id))
