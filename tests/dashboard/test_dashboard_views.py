"""AppTest checks for issue 13: unknown names in the address, one ranking for the plot and the
table, honest importance, the study-wide views, and a trial page that needs no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dashboard_db import REPO, Db
from streamlit.testing.v1 import AppTest
from test_dashboard_app import charts, links, open_page, text_of

pytestmark = [pytest.mark.timeout(180), pytest.mark.filterwarnings("ignore::UserWarning")]


def board_and_front(at: AppTest) -> tuple[list[int], set[int], set[int]]:
    """Leaderboard order, its front column, and the plot's red points."""
    board = at.dataframe[0].value
    front = next(t for t in charts(at)[0]["data"] if t["name"] == "Pareto front")
    return (list(board["trial"]), set(board.loc[board["pareto"], "trial"]),
            {int(c[0]) for c in front["customdata"]})


@pytest.mark.parametrize("page", ["study", "trial", "compare"])
def test_unknown_study_is_an_error_not_another_study(app_env: pytest.MonkeyPatch,
                                                     mixed_db: Db, page: str) -> None:
    at = open_page(app_env, mixed_db.url, page, study="nope")
    assert at.error and "nope" in at.error[0].value
    assert "All studies" in links(at)  # the default page: the list
    assert not at.dataframe and not at.get("plotly_chart") and not at.metric
    assert at.query_params["study"] == "nope"  # the address is left as typed


def test_unknown_trial_is_an_error(app_env: pytest.MonkeyPatch, mixed_db: Db) -> None:
    at = open_page(app_env, mixed_db.url, "trial", study="mixed", trial="999")
    assert at.error and "no trial '999'" in at.error[0].value
    assert links(at)["Back to mixed"] == "study?study=mixed"
    assert not at.metric and at.query_params["trial"] == "999"
    at = open_page(app_env, mixed_db.url, "compare", study="mixed", trials="0,42")
    assert at.error and "42" in at.error[0].value and not at.get("plotly_chart")


def test_filters_and_cost_rank_the_plot_and_the_table_alike(app_env: pytest.MonkeyPatch,
                                                            mixed_db: Db) -> None:
    at = open_page(app_env, mixed_db.url, "study", study="mixed")
    order, table_front, plot_front = board_and_front(at)
    assert table_front == plot_front == {0, 1}
    assert not any("computed among" in i.value for i in at.info)  # nothing to explain

    at.multiselect(key="filter_arch_space").select("mlp").run()
    order, table_front, plot_front = board_and_front(at)
    # Without the CNN (trial 1) trial 0 alone is best; the table says so as the plot does.
    assert table_front == plot_front == {0}
    assert order[:2] == [0, 2] and at.dataframe[0].value["rank"].iloc[1] == 1
    assert any("the 3 of 6 trials that match the filters" in i.value for i in at.info)

    at.multiselect(key="filter_arch_space").unselect("mlp").run()
    at.selectbox(key="pareto_cost").select("params").run()
    order, table_front, plot_front = board_and_front(at)
    # params grow with the trial number, so on that cost trial 0 dominates trial 2 and
    # trial 1 (most accurate) stays on the front.
    assert table_front == plot_front == {0, 1}
    assert any("vs parameters" in i.value for i in at.info)
    assert "vs parameters" in at.caption[-1].value or any(
        "vs parameters" in c.value for c in at.caption)


def test_importance_says_what_it_is_and_how_sure(app_env: pytest.MonkeyPatch,
                                                 search_db: Db) -> None:
    at = open_page(app_env, search_db.url, "study", study=search_db.study)
    at.session_state["study_tab"] = "Importance"
    at.run()
    assert not at.exception
    bars = [c for c in charts(at) if c["data"][0]["type"] == "bar"]
    if not bars:  # Optuna may refuse three trials outright; then it must say so
        assert any("importance" in i.value.lower() for i in at.info)
        return
    title = bars[0]["layout"]["xaxis"]["title"]["text"]
    assert "PED-ANOVA" in title and "variance" not in title
    captions = " ".join(c.value for c in at.caption)
    assert "Method: PED-ANOVA" in captions and "on 3 completed trials" in captions
    assert any("rough hint" in w.value for w in at.warning)  # 3 trials for several params


@pytest.mark.parametrize(("tab", "key", "kind"), [
    ("Slice", "slice", "scattergl"), ("Contour", "contour", "heatmap"),
    ("EDF", "edf", "scatter"), ("Curves", "study_curves", "scattergl"),
    ("Timeline", "timeline", "bar"), ("Hypervolume", "hypervolume", "scatter"),
    ("Rungs", "rungs", "bar"), ("Parallel", "parallel", "parcoords"),
])
def test_study_wide_views(app_env: pytest.MonkeyPatch, mixed_db: Db, tab: str, key: str,
                          kind: str) -> None:
    at = open_page(app_env, mixed_db.url, "study", study="mixed")
    at.session_state["study_tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    drawn = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    assert drawn, f"no chart keyed {key}"
    assert any(t["type"] == kind for t in charts(at)[-1]["data"])
    if tab == "Rungs":
        table = next(d.value for d in at.dataframe if "stage" in d.value.columns)
        stages = dict(zip(table["trial"], table["stage"], strict=True))
        assert stages[3] == "pruned at epoch 1" and stages[0] == "full budget"
    if tab == "Hypervolume":
        assert any("reference point" in c.value for c in at.caption)
    if tab == "Parallel":
        assert any("axes:" in c.value for c in at.caption)


def test_trial_page_imports_no_torch(mixed_db: Db) -> None:
    """Rendered in a fresh interpreter: neither the page nor its layer table loads torch."""
    code = (
        "import os, sys\n"
        f"os.environ['AUTOML_STORAGE'] = {mixed_db.url!r}\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(REPO / 'dashboard' / 'app.py')!r}, default_timeout=60)\n"
        "at.run(); at.query_params.update({'study': 'mixed', 'trial': '1'})\n"
        "at.switch_page('views/trial.py').run()\n"
        "assert not at.exception and at.title[0].value == 'Trial 1'\n"
        "assert len(at.dataframe[0].value) > 5\n"
        "print('torch' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"


def test_trial_page_formats_numbers_for_people(app_env: pytest.MonkeyPatch,
                                               mixed_db: Db) -> None:
    at = open_page(app_env, mixed_db.url, "trial", study="mixed", trial="1")
    # Trial 1 measured in balanced accuracy: the labels say so.
    assert {m.label: m.value for m in at.metric}["val bal. acc"] == "0.9500"
    per_class = next(d.value for d in at.dataframe if "class" in d.value.columns)
    assert per_class["class"].tolist() == ["cat", "dog", "eel"]
    assert per_class["test accuracy"].tolist()[:2] == [0.96, 0.94]
    assert per_class["test accuracy"].isna().tolist()[2]  # no test sample of it
    page = text_of(at)
    assert "900k" in page  # FLOPs 9e5, not 900,000 or 9e+05
    parts = set(next(d.value for d in at.dataframe if "part" in d.value.columns)["part"])
    assert "stage 1 transition" in parts
    assert "stage 1 transition" in at.get("graphviz_chart")[0].proto.spec


def test_big_study_picks_its_trial_with_a_number_box(app_env: pytest.MonkeyPatch,
                                                     mixed_db: Db) -> None:
    from dashboard import ui

    app_env.setattr(ui, "MAX_SELECT_OPTIONS", 2)  # as if the study had thousands of trials
    at = open_page(app_env, mixed_db.url, "trial", study="mixed", trial="3")
    box = at.number_input(key="trial_pick")
    assert box.value == 3 and at.title[0].value == "Trial 3"
    box.set_value(4).run()
    assert at.title[0].value == "Trial 4" and at.query_params["trial"] == "4"
