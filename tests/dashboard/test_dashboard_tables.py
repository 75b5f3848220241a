"""A coded table's network in the dashboard and the CLI: its diagram shows the encoder before
the body, and one line sums it up by both (issue 23)."""

from __future__ import annotations

from dashboard_db import CNN, MLP
from test_dashboard_frames import SPECS

from dashboard import archviz


def test_a_table_diagram_shows_the_encoder_before_the_body() -> None:
    table = next(s for s in SPECS if s["kind"] == "table" and s["encoding"] == "onehot")
    dot = archviz.arch_dot(table)
    assert "table row\\n3 columns (2 categorical)" in dot
    assert "encoder: one-hot, missing values imputed and flagged\\n11" in dot
    assert "hidden 0: Linear 32" in dot and "unknown architecture" not in dot


def test_a_table_network_is_summed_up_by_its_encoder_and_body() -> None:
    from automl.storage.records import arch_summary

    table = {"kind": "table", "encoding": "embed", "embed_dim": 8, "bins": 32,
             "body": {**MLP, "hidden": [64, 32]}}
    assert arch_summary(table) == "table(emb8 ple32) mlp 64-32"
    onehot = {**table, "encoding": "onehot", "bins": 0, "body": CNN}
    assert arch_summary(onehot) == "table(1hot) cnn2d w8/16 4b"
