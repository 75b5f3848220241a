"""The ``mlp`` space: depth, per-layer widths, activation, norm and dropout on flattened input.

Trial parameters: ``n_layers``, ``l{i}_width`` (i < n_layers), ``activation``, ``norm``,
``dropout`` (only when ``dropout_max > 0``) and ``members`` (only when ``members`` offers more
than one: 1 is a plain MLP, more an efficient ensemble, ``search_spaces.arch.ensemble``).
"""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces._fields import as_choices, as_float, as_int, choices_of, ints_from, set_field
from search_spaces.arch.specs import ACTIVATIONS, NORMS, MLPSpec
from search_spaces.base import ARCH_SPACES, InputInfo, TrialLike
from search_spaces.registry import FieldError


@dataclass(frozen=True)
class MLPOptions:
    """Bounds of the ``mlp`` space."""

    min_layers: int = 1
    max_layers: int = 3
    widths: tuple[int, ...] = (64, 128, 256, 512)
    activations: tuple[str, ...] = ACTIVATIONS
    norms: tuple[str, ...] = NORMS
    dropout_max: float = 0.3
    # 1 only: ensembles did not pay at the suite's budgets (benchmarks/RESULTS.md, issue 21)
    members: tuple[int, ...] = (1,)

    def __post_init__(self) -> None:
        set_field(self, "min_layers", as_int(None, "min_layers", self.min_layers, 0))
        set_field(self, "max_layers", as_int(None, "max_layers", self.max_layers, 0))
        if self.max_layers < self.min_layers:
            raise FieldError("max_layers", f"need >= min_layers ({self.min_layers})")
        set_field(self, "widths", as_choices(None, "widths", self.widths, ints_from(1)))
        acts = as_choices(None, "activations", self.activations, choices_of(ACTIVATIONS))
        set_field(self, "activations", acts)
        set_field(self, "norms", as_choices(None, "norms", self.norms, choices_of(NORMS)))
        dropout_max = as_float(None, "dropout_max", self.dropout_max, 0.0, 1.0, hi_open=True)
        set_field(self, "dropout_max", dropout_max)
        set_field(self, "members", as_choices(None, "members", self.members, ints_from(1)))


def sample_dropout(trial: TrialLike, dropout_max: float) -> float:
    """``dropout`` in ``[0, dropout_max]``; no trial parameter when the range is empty."""
    return trial.suggest_float("dropout", 0.0, dropout_max) if dropout_max > 0 else 0.0


@ARCH_SPACES.register("mlp", options=MLPOptions)
def mlp_space(trial: TrialLike, info: InputInfo, options: MLPOptions | None = None) -> MLPSpec:
    """Sample an MLP for any input shape (the input is flattened)."""
    o = options or MLPOptions()
    n_layers = trial.suggest_int("n_layers", o.min_layers, o.max_layers)
    hidden = tuple(trial.suggest_categorical(f"l{i}_width", o.widths) for i in range(n_layers))
    return MLPSpec(
        input_shape=info.shape,
        num_classes=info.num_classes,
        hidden=hidden,
        activation=trial.suggest_categorical("activation", o.activations),
        norm=trial.suggest_categorical("norm", o.norms),
        dropout=sample_dropout(trial, o.dropout_max),
        members=(trial.suggest_categorical("members", o.members) if len(o.members) > 1
                 else o.members[0]),
    )
