"""Trial page: learning curves, the architecture as a diagram and a layer table, the loss
formula, every cost, the configuration, and the ``automl export`` command for the trial."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from automl.storage import TrialRecord
from dashboard import figures, frames, loaders, ui
from dashboard.archviz import arch_dot
from dashboard.numbers import human
from dashboard.specs import costs_table, export_command


def render() -> None:
    url = loaders.storage_url()
    names = ui.study_names(url, title="Trial")
    if not names:
        return
    title, pick_study, pick_trial = st.columns([4, 2, 1], vertical_alignment="bottom")
    with pick_study:
        study = ui.pick_study(names)
    with ui.guard(url):
        numbers = loaders.trial_numbers(url, study)
    if not numbers:
        st.info("This study has no trials yet.")
        return
    asked = st.query_params.get("trial")
    if asked is not None and (not asked.isdigit() or int(asked) not in set(numbers)):
        ui.not_found(f"Study “{study}” has no trial {asked!r} (its trials are numbered "
                     f"{numbers[0]} to {numbers[-1]}).", ui.STUDY, f"Back to {study}",
                     {"study": study})
    with pick_trial:
        pick = ui.synced_number if len(numbers) > ui.MAX_SELECT_OPTIONS else ui.synced_select
        number = int(pick("Trial", numbers, key="trial_pick", param="trial"))
    title.title(f"Trial {number}")
    with ui.guard(url):
        rec = loaders.trial(url, study, number)
    running = rec.state == "RUNNING"
    every = ui.refresh_every(True, fresh_s=loaders.freshness("trial", url, study, str(number)))
    st.fragment(run_every=every if running else None)(body)(url, study, number)


def body(url: str, study: str, number: int) -> None:
    with ui.guard(url):
        rec = loaders.trial(url, study, number)
    st.page_link(ui.STUDY, label=f"Back to {study}", icon=":material/arrow_back:",
                 query_params={"study": study})
    cols = st.columns(5)
    cols[0].metric("state", rec.state.lower())
    short = {"accuracy": "acc", "balanced_accuracy": "bal. acc", "macro_f1": "macro F1"}
    name = short.get(rec.metric, rec.metric)
    cols[1].metric(f"val {name}", human("val_accuracy", rec.val_accuracy))
    cols[2].metric(f"test {name}", human("test_accuracy", rec.test_accuracy))
    cols[3].metric("best epoch", human("best_epoch", rec.best_epoch))
    cols[4].metric("params", human("params", rec.params))
    if rec.reason:
        st.warning(f"{rec.state.lower()}: {rec.reason}")
    curves(rec)
    architecture(rec)
    st.subheader("Loss")
    st.code(rec.loss_formula or "-", language=None)
    if isinstance(rec.test_per_class, dict) and rec.test_per_class:
        st.subheader("Test accuracy per class")
        st.dataframe(frames.per_class_frame(rec.test_per_class), hide_index=True)
    left, right = st.columns(2)
    with left:
        st.subheader("Costs")
        st.table(costs_table([rec], text=True).rename(columns={f"trial {rec.number}": "value"}))
    with right:
        st.subheader("Export")
        st.caption("Rebuild and export this trial's network with:")
        st.code(export_command(study, rec.number, url), language="bash", wrap_lines=True)
    st.subheader("Configuration")
    st.json({"hparams": rec.hparams, "searched parameters": rec.params_searched,
             "train_config": rec.train_config, "preprocessing": rec.preprocessing,
             "arch": rec.arch, "loss": rec.loss}, expanded=1)


def curves(rec: TrialRecord) -> None:
    st.subheader("Learning curves")
    data = frames.curves_frame([rec])
    if data.empty:
        st.info("No epoch was recorded for this trial.")
        return
    st.plotly_chart(figures.curves_figure(data), key="curves", width="stretch")


def architecture(rec: TrialRecord) -> None:
    st.subheader("Architecture")
    if not rec.arch:
        st.info("No architecture was stored for this trial (it failed before sampling one).")
        return
    left, right = st.columns([2, 3])
    with left:
        st.graphviz_chart(arch_dot(rec.arch), width="content")
    with right:
        level = st.segmented_control("Rows", ["layer", "block"], default="layer",
                                     required=True, key="layer_level") or "layer"
        rows, source = loaders.layer_table(json.dumps(rec.arch, sort_keys=True), level)
        table = pd.DataFrame(rows, columns=["part", "name", "type", "output_shape", "params"])
        st.dataframe(table, hide_index=True, height=min(400, 38 + 35 * len(table)),
                     column_config={"params": st.column_config.NumberColumn(format="localized"),
                                    "output_shape": st.column_config.TextColumn("output")})
        total = pd.to_numeric(table["params"], errors="coerce").sum()
        st.caption(f"{len(table)} rows, {int(total):,} parameters; shapes per sample, "
                   f"{source}. The diagram's boxes are the table's parts.")


render()
