"""Tables with categorical columns or missing values: the encoder that is the first layer of
the network (so every export takes raw coded rows), its builder, and the space wrapper that
searches the encoding beside the body's architecture.

The row format is :mod:`search_spaces.arch.table_spec`'s. The encoder is plain tensor ops
(IsNaN, Where, Gather, Concat), so ONNX, ``torch.export`` and the INT8 path carry it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from search_spaces.arch.net import (
    ARCH_BUILDERS,
    ArchBuilder,
    HeldOut,
    SearchNet,
    build_model,
    count_layers,
)
from search_spaces.arch.table_spec import TableSpec
from search_spaces.base import InputInfo, TrialLike

# Searched by default: both encodings (which is better depends on the data: measured per
# search, not ruled), and the embedding width for categorical columns with many levels.
ENCODINGS = ("embed", "onehot")
EMBED_DIMS = (4, 8, 16)
BINS = (0, 8, 32)  # numeric columns: as they are, or piecewise-linear over quantile bins
# Bodies whose transform is fixed once fitted (features kept across epochs, a closed-form head):
# they read the encoded row through a frozen encoder.
FIXED_INPUT_BODIES = ("rocket",)


class TableEncoder(nn.Module):
    """``(N, columns)`` coded rows -> ``(N, encoded_width)`` floats, in column order: a numeric
    value with NaN replaced by 0 (the training mean after standardization), then its missing
    indicator if it has one; a categorical code as its embedding (or one-hot) row, every code
    outside ``0 .. levels-1`` (NaN, -1, a fraction) at the unknown slot ``levels``."""

    tables: nn.ModuleList  # the embedded columns' embeddings, when a column embeds
    edges: torch.Tensor  # (numeric columns, bins + 1) bin edges, when it bins

    def __init__(self, spec: TableSpec) -> None:
        super().__init__()
        self.columns = spec.columns
        self.encoding = spec.encoding
        self.bins = spec.bins
        if self.bins:  # each numeric column's bin edges: evenly spread until fit() sets them
            numeric = sum(1 for c in spec.columns if c.kind == "numeric")
            edges = torch.linspace(-2.0, 2.0, self.bins + 1).repeat(numeric, 1)
            self.register_buffer("edges", edges)
        # Per categorical column, in column order: a fixed identity for a one-hot column (a
        # buffer, not a parameter: one-hot learns nothing), else a learned embedding. With no
        # embedding the encoder is one weightless layer.
        categorical = [c for c in spec.columns if c.kind == "categorical"]
        for k, c in enumerate(categorical):
            if c.onehot(spec.encoding):  # + 1: the unknown slot
                self.register_buffer(f"eye{k}", torch.eye(c.levels + 1))
        embedded = [c for c in categorical if not c.onehot(spec.encoding)]
        if embedded:
            self.tables = nn.ModuleList(
                nn.Embedding(c.levels + 1, c.width(spec.encoding, spec.embed_dim))
                for c in embedded)

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Bin edges at the quantiles of each numeric column's present training values (the
        same rows on every rank give the same edges)."""
        if not self.bins:
            return
        levels = torch.linspace(0.0, 1.0, self.bins + 1, device=x.device)
        numeric = [i for i, c in enumerate(self.columns) if c.kind == "numeric"]
        for j, i in enumerate(numeric):
            v = x[:, i].float()
            v = v[~torch.isnan(v)]
            if len(v):
                self.edges[j] = torch.quantile(v, levels).to(self.edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts: list[torch.Tensor] = []
        k = j = e = 0  # categorical, numeric and embedded columns so far
        for i, c in enumerate(self.columns):
            v = x[:, i]
            if c.kind == "numeric":
                missing = torch.isnan(v)
                value = torch.where(missing, torch.zeros_like(v), v)[:, None]
                if self.bins:  # component t: how far into bin t the value is, in [0, 1]
                    lo, hi = self.edges[j, :-1], self.edges[j, 1:]
                    value = ((value - lo) / (hi - lo).clamp_min(1e-6)).clamp(0.0, 1.0)
                parts.append(value.to(x.dtype))
                if c.missing:
                    parts.append(missing.to(x.dtype)[:, None])
                j += 1
                continue
            known = (v >= 0) & (v < c.levels)  # False for NaN
            code = torch.where(known, torch.floor(v), torch.full_like(v, float(c.levels))).long()
            if c.onehot(self.encoding):
                found = F.embedding(code, getattr(self, f"eye{k}"))
            else:
                found = self.tables[e](code)
                e += 1
            parts.append(found.to(x.dtype))
            k += 1
        return torch.cat(parts, dim=1)


def _table(spec: TableSpec) -> tuple[nn.Module, list[nn.Module], nn.Module]:
    body = build_model(spec.body)
    encoder = TableEncoder(spec)
    if spec.body.kind in FIXED_INPUT_BODIES:
        # Random features read a fixed code: an embedding learned under them made every batch
        # of every epoch transform the encoded rows again, and backpropagate through it (no
        # features kept), 24 s a candidate on a 3,000-row table. Left at its random start, an
        # embedding is a fixed random code of each level, as one-hot is a fixed sparse one.
        encoder.requires_grad_(False)
    return nn.Sequential(encoder, body.stem), list(body.blocks), body.head


def _table_layers(spec: TableSpec) -> int:
    return count_layers(spec.body)


def _fit_table(net: SearchNet, x: torch.Tensor, y: torch.Tensor) -> HeldOut | None:
    """The encoder's bin edges, then the body's data-dependent start, if its kind has one
    (rocket's biases and ridge head), on the encoded rows through a view that shares the
    body's modules. A body without one costs no pass over the training rows."""
    assert isinstance(net.spec, TableSpec) and isinstance(net.stem, nn.Sequential)
    encoder, stem = net.stem[0], net.stem[1]
    assert isinstance(encoder, TableEncoder)
    encoder.fit(x)
    fit_body = ARCH_BUILDERS.get(net.spec.body.kind).fit_to_data
    if fit_body is None:
        return None
    return fit_body(SearchNet(stem, list(net.blocks), net.head, spec=net.spec.body), encoder(x), y)


ARCH_BUILDERS.register("table")(ArchBuilder(_table, _table_layers, _fit_table))


def table_arch(trial: TrialLike, info: InputInfo,
               body_space: Callable[[TrialLike, InputInfo], Any]) -> TableSpec:
    """Sample the body, then the encoding: ``table_encoding``, ``table_embed_dim`` when a
    column embeds with more levels than the smallest width, and ``table_bins`` when the
    body is an MLP and there are numeric columns (a conv reading the row as a signal would only
    see it lengthened: its bodies keep each value as it is)."""
    assert info.columns is not None
    columns = info.columns
    # The body is sampled for the table's columns, then takes the encoded width: its space's
    # bounds (scaled to the input) must not change with the encoding, or the same parameter
    # would have other choices in other trials; the encoded row is never shorter, so what fits
    # the columns fits it. A row is no ordered signal (lag1 0): that orders the strong starts.
    body = body_space(trial, replace(info, columns=None, lag1=0.0))
    encoding = trial.suggest_categorical("table_encoding", ENCODINGS)
    # The width is asked only when some column embeds wider than the smallest choice.
    most = max((c.levels + 1 for c in columns
                if c.kind == "categorical" and not c.onehot(encoding)), default=0)
    embed_dim = EMBED_DIMS[0]
    if most > EMBED_DIMS[0]:
        embed_dim = trial.suggest_categorical("table_embed_dim", EMBED_DIMS)
    bins = 0
    if body.kind == "mlp" and any(c.kind == "numeric" for c in columns):
        bins = trial.suggest_categorical("table_bins", BINS)
    width = sum(c.width(encoding, embed_dim, bins) for c in columns)
    return TableSpec(columns=columns, encoding=encoding, embed_dim=embed_dim, bins=bins,
                     body=replace(body, input_shape=(width,)))
