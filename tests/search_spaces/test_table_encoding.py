"""The table encoder inside the network: numeric values imputed and flagged, categorical codes
looked up with an unknown slot, the spec's round trip, and a space whose parameters keep their
domains whichever encoding a trial takes."""

from __future__ import annotations

import math

import optuna
import pytest
import torch

from search_spaces import (
    ColumnSpec,
    InputInfo,
    MLPSpec,
    TableSpec,
    arch_from_dict,
    arch_to_dict,
    build_model,
    sample_arch,
)
from search_spaces.arch.table import TableEncoder

NAN = float("nan")
COLUMNS = (ColumnSpec("numeric", missing=True), ColumnSpec("categorical", levels=3),
           ColumnSpec("numeric"), ColumnSpec("categorical", levels=12))


def table(encoding: str, embed_dim: int = 4, classes: int = 3, bins: int = 0) -> TableSpec:
    width = sum(c.width(encoding, embed_dim, bins) for c in COLUMNS)
    body = MLPSpec(input_shape=(width,), num_classes=classes, hidden=(8,))
    return TableSpec(columns=COLUMNS, encoding=encoding, embed_dim=embed_dim, bins=bins,
                     body=body)


ROWS = torch.tensor([
    [0.5, 0.0, 1.0, 11.0],
    [NAN, 2.0, -2.0, 3.0],
    [1.5, NAN, 0.0, -1.0],  # missing category, then a level never seen in training
    [-1.0, 7.0, 3.0, 2.7],  # out of range, then a fraction: both unknown / floor
])


@pytest.mark.parametrize("encoding", ["embed", "onehot"])
def test_the_encoder_imputes_flags_and_looks_up_with_an_unknown_slot(encoding: str) -> None:
    spec = table(encoding)
    enc = TableEncoder(spec)
    out = enc(ROWS)
    assert out.shape == (4, spec.encoded_width)

    def lookup(k: int, slot: int, levels: int) -> torch.Tensor:
        if encoding == "onehot":
            return torch.eye(levels + 1)[slot]
        return enc.tables[k].weight[slot]

    for i, row in enumerate(ROWS.tolist()):
        a, cat3, b, cat12 = row
        want = [torch.tensor([0.0 if math.isnan(a) else a, float(math.isnan(a))]),
                lookup(0, int(cat3) if cat3 in (0.0, 1.0, 2.0) else 3, 3),
                torch.tensor([b]),
                lookup(1, int(cat12) if 0 <= cat12 < 12 else 12, 12)]
        torch.testing.assert_close(out[i], torch.cat(want))
    weights = sum(p.numel() for p in enc.parameters())
    assert weights == (0 if encoding == "onehot" else 4 * 4 + 13 * 4)


def test_piecewise_linear_bins_sit_at_the_training_quantiles() -> None:
    """Gorishniy et al.'s encoding: component t is 0 below bin t, 1 above it, linear inside;
    the edges are the quantiles of the column's present training values."""
    spec = table("onehot", bins=4)
    enc = TableEncoder(spec)
    train = torch.tensor([[float(v), 0.0, float(-v), 1.0] for v in range(9)]
                         + [[NAN, 1.0, NAN, 2.0]])
    enc.fit(train)
    torch.testing.assert_close(enc.edges[0], torch.tensor([0.0, 2.0, 4.0, 6.0, 8.0]))
    torch.testing.assert_close(enc.edges[1], torch.tensor([-8.0, -6.0, -4.0, -2.0, 0.0]))
    out = enc(torch.tensor([[3.0, 0.0, -9.0, 1.0], [NAN, 0.0, 0.5, 1.0]]))
    assert out.shape == (2, spec.encoded_width) == (2, 4 + 1 + 4 + 4 + 13)
    torch.testing.assert_close(out[0, :5], torch.tensor([1.0, 0.5, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(out[0, 9:13], torch.tensor([0.0, 0.0, 0.0, 0.0]))
    # Missing: imputed at 0 (the mean), flagged; above every edge: all ones.
    torch.testing.assert_close(out[1, :5], torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0]))
    torch.testing.assert_close(out[1, 9:13], torch.tensor([1.0, 1.0, 1.0, 1.0]))
    net = build_model(spec)
    net.fit_to_data(train, torch.zeros(10, dtype=torch.long))  # the trainer's call fits them
    torch.testing.assert_close(net.stem[0].edges, enc.edges)
    assert "stem.0.edges" in net.state_dict()  # saved and exported with the weights


def test_the_spec_round_trips_and_states_its_shape() -> None:
    spec = table("embed", 8)
    d = arch_to_dict(spec)
    assert d["input_shape"] == [4] and d["num_classes"] == 3
    assert arch_from_dict(d) == spec
    with pytest.raises(ValueError, match=r"TableSpec.body.input_shape: must hold the 11 "):
        TableSpec(columns=COLUMNS, encoding="embed", embed_dim=4,
                  body=MLPSpec(input_shape=(5,), num_classes=3, hidden=()))
    with pytest.raises(ValueError, match="a table's body cannot be another table"):
        arch_from_dict({**d, "body": d})
    with pytest.raises(ValueError, match=r"ColumnSpec.missing: a categorical column"):
        ColumnSpec("categorical", levels=2, missing=True)
    with pytest.raises(ValueError, match=r"TableSpec.input_shape: must be \(4,\)"):
        TableSpec.from_dict({**d, "input_shape": [5], "body": spec.body})


def test_a_network_trains_through_the_encoder() -> None:
    torch.manual_seed(0)
    net = build_model(table("embed"))
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    y = torch.tensor([0, 1, 2, 1])
    first = None
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(net(ROWS), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    assert net.stem[0].tables[0].weight.grad is not None


def test_the_space_keeps_each_parameters_domain_whatever_the_encoding() -> None:
    """Optuna refuses a categorical parameter whose choices change between trials, so the
    body's bounds must not follow the encoded width."""
    info = InputInfo((4,), 3, n_train=400, lag1=0.0, columns=COLUMNS)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(16):
        trial = study.ask()
        spec = sample_arch("auto", trial, info)
        assert isinstance(spec, TableSpec) and spec.columns == COLUMNS
        net = build_model(spec)
        net.fit_to_data(ROWS.repeat(8, 1), torch.tensor([0, 1, 2, 0]).repeat(8))
        assert torch.isfinite(net(ROWS)).all()
        seen.add((spec.encoding, spec.body.kind))
        assert spec.bins == 0 or spec.body.kind == "mlp"  # bins lengthen a conv's signal
        study.tell(trial, 0.5)
    # Each name was asked with one domain in every trial.
    domains: dict[str, object] = {}
    for t in study.trials:
        for name, dist in t.distributions.items():
            assert domains.setdefault(name, dist) == dist, name
    assert {e for e, _ in seen} == {"embed", "onehot"}
    # Every family that reads a row is offered (issue 21): which one wins is measured.
    assert {k for _, k in seen} == {"mlp", "cnn1d", "rocket"}


def test_rocket_reads_the_encoded_row_when_named() -> None:
    """Rocket reads the encoded row like any family that takes it: its
    biases and ridge head are fitted on encoded rows (values as they are: no bins)."""
    info = InputInfo((4,), 3, n_train=400, lag1=0.0, columns=COLUMNS)
    trial = optuna.trial.FixedTrial({"table_encoding": "onehot",
                                     "rocket.n_features": 1000, "rocket.norm": "none",
                                     "rocket.dropout": 0.0})
    spec = sample_arch("auto", trial, info, {"families": ["rocket"]})
    assert isinstance(spec, TableSpec) and spec.body.kind == "rocket" and spec.bins == 0
    assert spec.body.input_shape == (spec.encoded_width,)
    net = build_model(spec)
    x = ROWS.repeat(10, 1) + torch.randn(40, 4) * 0.1
    x[:, [1, 3]] = ROWS[:, [1, 3]].repeat(10, 1)  # codes stay codes
    y = torch.tensor([0, 1, 2, 1]).repeat(10)
    net.fit_to_data(x, y)
    assert (net(x).argmax(1) == y).float().mean() > 0.9  # the ridge head fits the rows


def test_rocket_reads_a_frozen_code_and_keeps_its_features_across_epochs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Under rocket the encoder learns nothing (an embedding stays a fixed random code), so a
    training batch is transformed once, not in every epoch with a backward pass through it;
    an MLP still learns its embeddings."""
    from search_spaces.arch.rocket import RocketFeatures

    info = InputInfo((4,), 3, n_train=400, lag1=0.0, columns=COLUMNS)
    trial = optuna.trial.FixedTrial({"table_encoding": "embed", "table_embed_dim": 4,
                                     "rocket.n_features": 1000, "rocket.norm": "none",
                                     "rocket.dropout": 0.0})
    spec = sample_arch("auto", trial, info, {"families": ["rocket"]})
    assert isinstance(spec, TableSpec) and spec.body.kind == "rocket"
    net = build_model(spec)
    encoder = net.stem[0]
    assert isinstance(encoder, TableEncoder) and any(True for _ in encoder.parameters())
    assert not any(p.requires_grad for p in encoder.parameters())
    x = ROWS.repeat(10, 1) + torch.randn(40, 4) * 0.1
    x[:, [1, 3]] = ROWS[:, [1, 3]].repeat(10, 1)
    y = torch.tensor([0, 1, 2, 1]).repeat(10)
    net.fit_to_data(x, y)
    calls: list[int] = []
    transform = RocketFeatures._transform
    monkeypatch.setattr(RocketFeatures, "_transform",
                        lambda self, v: calls.append(len(v)) or transform(self, v))
    net.train()
    for _ in range(2):  # two epochs over one batch, with the head trained
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
    assert calls == []  # fit_to_data's features served both epochs
    mlp = build_model(table("embed"))
    assert all(p.requires_grad for p in mlp.stem[0].parameters())


def test_one_hot_is_for_few_levels() -> None:
    """Under one-hot, a column with more than ONEHOT_MAX_LEVELS levels is embedded: its width
    and lookup would grow with the levels (and their square)."""
    from search_spaces.arch.table_spec import ONEHOT_MAX_LEVELS

    cols = (ColumnSpec("categorical", levels=ONEHOT_MAX_LEVELS),
            ColumnSpec("categorical", levels=ONEHOT_MAX_LEVELS + 1))
    assert [c.width("onehot", 8) for c in cols] == [ONEHOT_MAX_LEVELS + 1, 8]
    spec = TableSpec(columns=cols, encoding="onehot", embed_dim=8, body=MLPSpec(
        input_shape=(ONEHOT_MAX_LEVELS + 9,), num_classes=2, hidden=()))
    enc = TableEncoder(spec)
    assert [m.num_embeddings for m in enc.tables] == [ONEHOT_MAX_LEVELS + 2]
    out = enc(torch.tensor([[3.0, 5.0], [NAN, 1e9]]))
    torch.testing.assert_close(out[0, :ONEHOT_MAX_LEVELS + 1],
                               torch.eye(ONEHOT_MAX_LEVELS + 1)[3])
    torch.testing.assert_close(out[1, ONEHOT_MAX_LEVELS + 1:],
                               enc.tables[0].weight[ONEHOT_MAX_LEVELS + 1])  # unknown slot
