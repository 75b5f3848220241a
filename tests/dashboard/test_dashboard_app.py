"""Every page through Streamlit's AppTest, against a database made by a real search and one
holding every trial state, plus the failure cases: each must show a message, not a traceback."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dashboard_db import APP, Db, build_importance, build_mixed
from streamlit.testing.v1 import AppTest

from automl.policy.ranking import leaderboard_rows as leaderboard
from automl.storage import open_storage

pytestmark = [
    pytest.mark.timeout(120),
    # Optuna's importance evaluators warn about small studies; the page says so itself.
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


def open_page(mp: pytest.MonkeyPatch, url: str, page: str | None = None,
              **query: str) -> AppTest:
    mp.setenv("AUTOML_STORAGE", url)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if page:
        at.query_params.update(query)
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def text_of(at: AppTest) -> str:
    """Everything the page sent to the browser, as text (to look for leaks and messages)."""
    return "\n".join(str(getattr(node, "proto", "")) for node in at._tree)


def charts(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(array: Any) -> list[Any]:
    """A Plotly array from a figure's JSON (Plotly 6+ ships numeric arrays as base64)."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def links(at: AppTest) -> dict[str, str]:
    return {ln.proto.label: f"{ln.proto.page}?{ln.proto.query_string}"
            for ln in at.get("page_link")}


def test_studies_page_lists_the_search(app_env: pytest.MonkeyPatch, search_db: Db) -> None:
    at = open_page(app_env, search_db.url)
    assert at.title[0].value == "Studies"
    table = at.dataframe[0].value
    row = table[table["study"] == search_db.study].iloc[0]
    assert row["trials"] == 3 and row["complete"] + row["pruned"] + row["fail"] == 3
    assert links(at)[f"Open {search_db.study}"] == f"study?study={search_db.study}"


def test_study_page_shows_leaderboard_and_front(app_env: pytest.MonkeyPatch,
                                                search_db: Db) -> None:
    at = open_page(app_env, search_db.url, "study", study=search_db.study)
    assert at.title[0].value == search_db.study
    assert {m.label: m.value for m in at.metric}["trials"] == "3"
    board = at.dataframe[0].value
    records = open_storage(search_db.url, create=False).trials(search_db.study)
    expected = leaderboard(records, cost="flops")
    assert list(board["trial"]) == [r["trial"] for r in expected]
    pareto, history = charts(at)
    front = next(t for t in pareto["data"] if t["name"] == "Pareto front")
    on_front = {r["trial"] for r in expected if r["pareto"]}
    assert {int(c[0]) for c in front["customdata"]} == on_front
    assert pareto["layout"]["xaxis"]["type"] == "log"
    assert [t["name"] for t in history["data"]] == ["trial", "best so far"]
    top = int(board.iloc[0]["trial"])
    assert links(at)[f"Open the top trial ({top})"] == (
        f"trial?study={search_db.study}&trial={top}")


def test_study_page_tabs_cost_and_filters(app_env: pytest.MonkeyPatch, mixed_db: Db) -> None:
    at = open_page(app_env, mixed_db.url, "study", study="mixed")
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["trials"], metrics["running"], metrics["failed"]) == ("6", "1", "1")
    assert len(at.dataframe[0].value) == 6
    front = next(t for t in charts(at)[0]["data"] if t["name"] == "Pareto front")
    assert sorted(int(c[0]) for c in front["customdata"]) == [0, 1]  # trial 2 is dominated

    at.multiselect(key="filter_state").select("PRUNED").run()
    assert list(at.dataframe[0].value["trial"]) == [3]
    at.multiselect(key="filter_state").unselect("PRUNED").run()
    at.selectbox(key="pareto_cost").select("params").run()
    assert charts(at)[0]["layout"]["xaxis"]["title"]["text"].startswith("parameters")

    at.session_state["study_tab"] = "Parallel"
    at.run()
    assert not at.exception
    assert any(c["data"][0]["type"] == "parcoords" for c in charts(at))
    at.session_state["study_tab"] = "Importance"
    at.run()
    assert not at.exception
    # Three finished trials: PED-ANOVA ranks the two parameters, flagged as a rough hint.
    [bars] = importance_bars(at)
    assert set(bars) == {"width", "lr"} and sum(bars.values()) == pytest.approx(1.0)
    assert any("PED-ANOVA, by Optuna, on 3 completed trials and 2 parameters" in c.value
               for c in at.caption)
    assert any("Only 3 completed trials for 2 parameters" in w.value for w in at.warning)


def importance_bars(at: AppTest) -> list[dict[str, float]]:
    """Each importance chart of the page as {parameter: importance}."""
    return [dict(zip(values(c["data"][0]["y"]), values(c["data"][0]["x"]), strict=True))
            for c in charts(at) if c["data"][0]["type"] == "bar"]


def test_importance_tab_ranks_the_parameter_that_decides_accuracy(
        app_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = build_importance(f"sqlite:///{tmp_path / 'imp.db'}")
    at = open_page(app_env, db.url, "study", study="lr-matters")
    at.session_state["study_tab"] = "Importance"
    at.run()
    assert not at.exception and not at.info
    [bars] = importance_bars(at)
    # Accuracy is a function of lr alone: lr must carry most of the importance.
    assert max(bars, key=bars.__getitem__) == "lr" and bars["lr"] > 0.7, bars
    assert any("on 40 completed trials and 2 parameters" in c.value for c in at.caption)
    assert not any("rough hint" in w.value for w in at.warning)  # 40 >= 30 and 20 a parameter
    # One completed trial: no chart, and the page says exactly why.
    at = open_page(app_env, db.url, "study", study="one-done")
    at.session_state["study_tab"] = "Importance"
    at.run()
    assert not at.exception and not importance_bars(at)
    [said] = [i.value for i in at.info]
    assert said.startswith("No importance to show: ")
    assert "importance needs at least two completed trials" in said


def test_trial_page(app_env: pytest.MonkeyPatch, search_db: Db) -> None:
    rec = open_storage(search_db.url, create=False).trial(search_db.study, 1)
    at = open_page(app_env, search_db.url, "trial", study=search_db.study, trial="1")
    assert at.title[0].value == "Trial 1"
    [curves] = charts(at)
    assert [values(t["x"]) for t in curves["data"]] == [[e.epoch for e in rec.epochs]] * 2
    dot = at.get("graphviz_chart")[0].proto.spec
    assert dot.startswith("digraph") and "classes" in dot
    layers = at.dataframe[0].value
    last = layers.iloc[-1]  # the classifier: the head itself (MLP) or its last layer (CNN)
    assert last["part"] == "head" and last["name"].split(".")[0] == "head", last.to_dict()
    assert layers["params"].sum() == rec.params
    codes = [c.value for c in at.code]
    assert rec.loss_formula in codes
    assert (f"automl export {search_db.study} --trial 1 --out exports/{search_db.study}-trial-1"
            f" --storage {search_db.url}") in codes
    assert "FLOPs per sample" in text_of(at)


def test_trial_page_of_running_and_failed_trials(app_env: pytest.MonkeyPatch,
                                                 mixed_db: Db) -> None:
    at = open_page(app_env, mixed_db.url, "trial", study="mixed", trial="5")
    assert {m.label: m.value for m in at.metric}["state"] == "running"
    assert values(charts(at)[0]["data"][0]["x"]) == [1]  # the one epoch so far
    at.selectbox(key="trial_pick").select(4).run()
    assert at.title[0].value == "Trial 4" and at.query_params["trial"] == "4"
    assert any("out of memory" in w.value for w in at.warning)
    assert any("No architecture" in i.value for i in at.info)


def test_compare_page_diffs_specs(app_env: pytest.MonkeyPatch, mixed_db: Db) -> None:
    at = open_page(app_env, mixed_db.url, "compare", study="mixed", trials="0,1")
    [curves] = charts(at)
    assert {t["name"] for t in curves["data"]} == {"trial 0", "trial 1"}
    costs, specs = (d.value for d in at.dataframe)
    assert list(costs.columns) == ["trial 0", "trial 1"]
    assert "arch.kind" in specs.index and "arch.input_shape" not in specs.index  # equal: hidden
    at.toggle(key="compare_all").set_value(True).run()
    assert "arch.input_shape" in at.dataframe[1].value.index


def test_study_with_only_failed_trials(app_env: pytest.MonkeyPatch, mixed_db: Db) -> None:
    at = open_page(app_env, mixed_db.url, "study", study="all-failed")
    assert any("No trial of this study has completed" in w.value for w in at.warning)
    assert set(at.dataframe[0].value["reason"]) == {"ValueError: bad data"}
    at = open_page(app_env, mixed_db.url, "study", study="no-trials")
    assert any("no trials yet" in i.value for i in at.info)


@pytest.mark.parametrize("page", ["studies", "study", "trial", "compare"])
@pytest.mark.parametrize("case", ["missing file", "empty file", "bad url", "no studies"])
def test_broken_databases_give_a_message(app_env: pytest.MonkeyPatch, tmp_path: Path,
                                         page: str, case: str) -> None:
    urls = {"missing file": f"sqlite:///{tmp_path / 'nope.db'}",
            "empty file": f"sqlite:///{tmp_path / 'empty.db'}",
            "bad url": "definitely not a url", "no studies": f"sqlite:///{tmp_path / 'new.db'}"}
    (tmp_path / "empty.db").write_bytes(b"")
    open_storage(urls["no studies"]).close()
    at = open_page(app_env, urls[case], page)
    shown = " ".join(e.value for e in [*at.error, *at.info])
    if case == "no studies":  # not an error: the exact invitation to start a search
        assert not at.error
        expected = (f"No studies yet in `{urls[case]}`. Start one with "
                    "`automl search --data digits --study NAME`" if page == "studies" else
                    "This database holds no study yet; run `automl search` to start one.")
    else:
        expected = {"missing file": "database file not found", "empty file": "holds no automl",
                    "bad url": "not a valid SQLAlchemy URL"}[case]
    assert expected in shown, shown
    assert "Traceback" not in text_of(at)


def test_password_never_shown(app_env: pytest.MonkeyPatch) -> None:
    at = open_page(app_env, "postgresql+psycopg://alice:hunter2secret@127.0.0.1:9/automl",
                   "study")
    assert at.error and "alice:***@" in at.error[0].value
    assert "hunter2secret" not in text_of(at)


def test_dashboard_never_writes(app_env: pytest.MonkeyPatch, mixed_db: Db) -> None:
    path = mixed_db.path
    assert path is not None

    def dump() -> list[str]:
        with sqlite3.connect(path) as con:
            return list(con.iterdump())

    before = dump()
    for page, query in (("studies", {}), ("study", {"study": "mixed"}),
                        ("trial", {"study": "mixed", "trial": "1"}),
                        ("compare", {"study": "mixed", "trials": "0,1,3"})):
        at = open_page(app_env, mixed_db.url, page, **query)
        if page == "study":
            at.session_state["study_tab"] = "Importance"
            at.run()
    assert dump() == before


def test_study_page_polls_only_while_live(app_env: pytest.MonkeyPatch, mixed_db: Db,
                                          search_db: Db) -> None:
    import streamlit as st

    from dashboard import ui

    intervals: list[Any] = []
    real = st.fragment

    def recording(*args: Any, **kwargs: Any) -> Any:
        intervals.append(kwargs.get("run_every"))
        return real(*args, **kwargs)

    app_env.setattr(st, "fragment", recording)
    at = open_page(app_env, mixed_db.url, "study", study="mixed")  # trial 5 is running
    assert intervals[-1] == ui.LIVE_S
    at.toggle(key="live").set_value(False).run()
    assert intervals[-1] is None
    open_page(app_env, search_db.url, "study", study=search_db.study)  # finished search
    assert intervals[-1] == ui.IDLE_S


def test_every_storage_backend(app_env: pytest.MonkeyPatch, storage_url: str) -> None:
    """The same pages on SQLite and, where AUTOML_TEST_POSTGRES_URL is set, PostgreSQL."""
    db = build_mixed(storage_url)
    at = open_page(app_env, db.url, "study", study="mixed")
    assert {m.label: m.value for m in at.metric}["trials"] == "6"
    at = open_page(app_env, db.url, "trial", study="mixed", trial="1")
    assert at.get("graphviz_chart") and len(charts(at)[0]["data"]) == 2
