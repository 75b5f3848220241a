"""Loss spaces: ``searched`` (family and parameters), ``symbolic`` (an expression),
``ce`` (label smoothing), ``fixed_ce``.

Trial parameters of ``searched``: ``loss_family``; ``loss_ls`` (ce, poly1, composite; step
0.05); ``loss_gamma`` (focal, composite; step 0.5); ``loss_epsilon`` (poly1; step 0.5);
``loss_weight`` (composite's focal weight; step 0.1); ``loss_q`` (gce; step 0.1);
``loss_alpha`` (sce, nce_rce: the active term's weight, the RCE's is 1; step 0.1);
``loss_label_weight`` (bootstrap; step 0.05); ``loss_tau`` (logit_adjust; step 0.25);
``loss_margin`` (ldam; step 0.25); ``loss_cb`` and, when true, ``loss_cb_beta`` (with ldam the
weighting is deferred to the last 20 % of epochs: LDAM-DRW). A parameter whose range is a single
value is not asked. The ``composite`` family is ``CE(ls) + w·Focal(γ)``. ``ce`` asks only
``loss_ls``; ``fixed_ce`` asks nothing. ``symbolic``: see :func:`symbolic_loss_space`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from search_spaces._fields import as_choices, as_float, as_range, bools, choices_of, set_field
from search_spaces.base import LOSS_SPACES, InputInfo, TrialLike
from search_spaces.loss.expr import Expr
from search_spaces.loss.kinds import LOSS_KINDS
from search_spaces.loss.specs import LossSpec
from search_spaces.registry import FieldError

# Every hand-designed kind; ``symbolic`` is its own space.
HAND_KINDS = tuple(k for k in LOSS_KINDS if k != "symbolic")


def _grid(trial: TrialLike, name: str, low: float, high: float, step: float) -> float:
    """A float on the grid ``low + k * step`` (readable formulas); no parameter if fixed."""
    steps = math.floor((high - low) / step + 1e-9)
    if steps <= 0:
        return low
    # Round away float noise such as 0.30000000000000004 so formulas and JSON stay clean.
    high = round(low + steps * step, 9)
    return round(trial.suggest_float(name, low, high, step=step), 6)


@dataclass(frozen=True)
class CELossOptions:
    """Bounds of the ``ce`` space."""

    label_smoothing_max: float = 0.2

    def __post_init__(self) -> None:
        ls_max = as_float(
            None, "label_smoothing_max", self.label_smoothing_max, 0.0, 1.0, hi_open=True
        )
        set_field(self, "label_smoothing_max", ls_max)


@dataclass(frozen=True)
class SearchedLossOptions:
    """Bounds of the ``searched`` space."""

    families: tuple[str, ...] = HAND_KINDS
    label_smoothing_max: float = 0.2
    gamma_range: tuple[float, float] = (0.5, 4.0)
    epsilon_range: tuple[float, float] = (-1.0, 2.0)
    weight_range: tuple[float, float] = (0.1, 1.0)
    q_range: tuple[float, float] = (0.1, 1.0)
    alpha_range: tuple[float, float] = (0.1, 1.0)
    label_weight_range: tuple[float, float] = (0.7, 0.95)
    tau_range: tuple[float, float] = (0.5, 2.0)
    margin_range: tuple[float, float] = (0.25, 1.0)
    class_balanced: tuple[bool, ...] = (False, True)
    betas: tuple[float, ...] = (0.9, 0.99, 0.999, 0.9999)

    def __post_init__(self) -> None:
        families = as_choices(None, "families", self.families, choices_of(HAND_KINDS))
        set_field(self, "families", families)
        ls_max = CELossOptions(self.label_smoothing_max).label_smoothing_max  # the ce check
        set_field(self, "label_smoothing_max", ls_max)
        set_field(self, "gamma_range", as_range(None, "gamma_range", self.gamma_range, 0.0))
        set_field(self, "epsilon_range", as_range(None, "epsilon_range", self.epsilon_range, -1.0))
        weights = as_range(None, "weight_range", self.weight_range, 0.0)
        if weights[0] <= 0:
            raise FieldError("weight_range", f"need weights > 0, got {list(weights)}")
        set_field(self, "weight_range", weights)
        for field, lo, hi in (("q_range", 0.1, 1.0), ("alpha_range", 0.01, 100.0),
                              ("label_weight_range", 0.5, 1.0), ("tau_range", 0.0, 4.0),
                              ("margin_range", 0.05, 4.0)):
            bounds = as_range(None, field, getattr(self, field), lo)
            if bounds[1] > hi:
                raise FieldError(field, f"need values in [{lo}, {hi}], got {list(bounds)}")
            set_field(self, field, bounds)
        balanced = as_choices(None, "class_balanced", self.class_balanced, bools())
        set_field(self, "class_balanced", balanced)
        betas = as_choices(
            None, "betas", self.betas, lambda f, v: as_float(None, f, v, 0.0, 1.0, hi_open=True)
        )
        set_field(self, "betas", betas)


def _ls(trial: TrialLike, ls_max: float) -> float:
    return _grid(trial, "loss_ls", 0.0, ls_max, 0.05)


@LOSS_SPACES.register("searched", options=SearchedLossOptions)
def searched_loss_space(
    trial: TrialLike, info: InputInfo, options: SearchedLossOptions | None = None
) -> LossSpec:
    """Search the loss family, its parameters and class balancing."""
    o = options or SearchedLossOptions()
    family = trial.suggest_categorical("loss_family", o.families)
    balanced = trial.suggest_categorical("loss_cb", o.class_balanced)
    beta = float(trial.suggest_categorical("loss_cb_beta", o.betas)) if balanced else None
    if family in _SIMPLE:
        field, name, step = _SIMPLE[family]
        low, high = getattr(o, f"{field}_range")
        spec = LossSpec(family, class_balanced_beta=beta,
                        reweight_from=0.8 if family == "ldam" and beta is not None else 0.0)
        value: dict[str, Any] = {field: _grid(trial, name, low, high, step)}
        return dataclasses.replace(spec, **value)
    if family == "balanced_softmax":
        return LossSpec(family, class_balanced_beta=beta)
    if family == "ce":
        return LossSpec.ce(_ls(trial, o.label_smoothing_max), beta=beta)
    if family == "poly1":
        eps = _grid(trial, "loss_epsilon", *o.epsilon_range, 0.5)
        ls = _ls(trial, o.label_smoothing_max)
        # Poly-1 with epsilon 0 is cross-entropy: said as one, its candidate is CE's (the
        # search answers a repeat from the stored result instead of training it again).
        return LossSpec.poly1(eps, ls, beta=beta) if eps else LossSpec.ce(ls, beta=beta)
    gamma = _grid(trial, "loss_gamma", *o.gamma_range, 0.5)
    if family == "focal":
        return LossSpec.focal(gamma, beta=beta)
    ce = LossSpec.ce(_ls(trial, o.label_smoothing_max))
    weight = _grid(trial, "loss_weight", *o.weight_range, 0.1)
    return LossSpec.composite((1.0, ce), (weight, LossSpec.focal(gamma)), beta=beta)


# family -> (its one searched field, the trial parameter, the grid step); the field's range
# is the options' ``<field>_range``.
_SIMPLE = {"gce": ("q", "loss_q", 0.1), "sce": ("alpha", "loss_alpha", 0.1),
           "nce_rce": ("alpha", "loss_alpha", 0.1),
           "bootstrap": ("label_weight", "loss_label_weight", 0.05),
           "logit_adjust": ("tau", "loss_tau", 0.25), "ldam": ("margin", "loss_margin", 0.25)}


@LOSS_SPACES.register("ce", options=CELossOptions)
def ce_loss_space(
    trial: TrialLike, info: InputInfo, options: CELossOptions | None = None
) -> LossSpec:
    """Cross-entropy with searched label smoothing."""
    o = options or CELossOptions()
    return LossSpec.ce(_ls(trial, o.label_smoothing_max))


@LOSS_SPACES.register("fixed_ce")
def fixed_ce_loss_space(trial: TrialLike, info: InputInfo, options: None = None) -> LossSpec:
    """Plain cross-entropy; asks the trial nothing."""
    return LossSpec.ce()


def _atoms() -> dict[str, Expr]:
    p, logp, m = Expr.leaf("p"), Expr.leaf("logp"), Expr.leaf("margin")
    mae = Expr.of("one_minus", p)
    return {
        "ce": Expr.of("neg", logp),  # −log p_t
        "mae": mae,  # 1−p_t (RCE up to a constant)
        "sq": Expr.of("square", mae),  # (1−p_t)²
        "focal": Expr.of("mul", Expr.of("square", mae), Expr.of("neg", logp)),
        "gce": Expr.of("one_minus", Expr.of("pow", p, Expr.const(0.5))),  # 1−p_t^0.5
        "margin": Expr.of("softplus", Expr.of("neg", m)),  # softplus(−m)
        "exp_margin": Expr.of("exp", Expr.of("neg", m)),  # exp(−m)
    }


ATOMS = tuple(_atoms())


@dataclass(frozen=True)
class SymbolicLossOptions:
    """Bounds of the ``symbolic`` space: up to ``terms`` signed terms over ``atoms``."""

    atoms: tuple[str, ...] = ATOMS
    terms: int = 3
    coefficient_range: tuple[float, float] = (-1.0, 2.0)
    taus: tuple[float, ...] = (0.0, 0.5, 1.0)
    reweights: tuple[float, ...] = (0.0, 0.25, 0.5)

    def __post_init__(self) -> None:
        set_field(self, "atoms", as_choices(None, "atoms", self.atoms, choices_of(ATOMS)))
        if not isinstance(self.terms, int) or isinstance(self.terms, bool) \
                or not 1 <= self.terms <= 4:
            raise FieldError("terms", f"need an integer in [1, 4], got {self.terms!r}")
        coef = as_range(None, "coefficient_range", self.coefficient_range, -4.0)
        if coef[1] > 4.0 or coef[1] <= 0.0:
            raise FieldError("coefficient_range", f"need values in [-4, 4] with a positive "
                             f"upper bound, got {list(coef)}")
        set_field(self, "coefficient_range", coef)
        for field in ("taus", "reweights"):
            vals = as_choices(None, field, getattr(self, field),
                              lambda f, v: as_float(None, f, v, 0.0, 2.0))
            set_field(self, field, vals)


@LOSS_SPACES.register("symbolic", options=SymbolicLossOptions)
def symbolic_loss_space(
    trial: TrialLike, info: InputInfo, options: SymbolicLossOptions | None = None
) -> LossSpec:
    """A loss written as an expression, TaylorGLO- and AutoLoss-Zero-like: a signed sum of up to
    ``terms`` atoms over p_t and the margin m (``loss_sym_atom{i}``, ``"none"`` ends a later
    slot; ``loss_sym_coef{i}`` on a 0.25 grid, the first positive), an optional weight
    π_t^−r (``loss_sym_reweight``) and optional prior-adjusted logits (``loss_sym_tau``).
    A candidate that fails :func:`~search_spaces.loss.check.rejection` raises
    :class:`~search_spaces.loss.check.LossRejected` before any training."""
    from search_spaces.loss.check import LossRejected, rejection

    o = options or SymbolicLossOptions()
    atoms, lo, hi = _atoms(), *o.coefficient_range
    expr: Expr | None = None
    for i in range(o.terms):
        names = o.atoms if i == 0 else ("none", *o.atoms)
        name = trial.suggest_categorical(f"loss_sym_atom{i}", names)
        if name == "none":
            break
        coef = _grid(trial, f"loss_sym_coef{i}", max(lo, 0.25) if i == 0 else lo, hi, 0.25)
        term = atoms[name] if coef == 1.0 else Expr.of("mul", Expr.const(coef), atoms[name])
        expr = term if expr is None else Expr.of("add", expr, term)
    assert expr is not None  # the first slot always holds an atom
    r = float(trial.suggest_categorical("loss_sym_reweight", o.reweights))
    if r:
        expr = Expr.of("mul", Expr.of("pow", Expr.leaf("prior"), Expr.const(-r)), expr)
    tau = float(trial.suggest_categorical("loss_sym_tau", o.taus))
    spec = LossSpec("symbolic", expression=expr, tau=tau)
    reason = rejection(spec)
    if reason is not None:
        raise LossRejected(f"{spec.formula}: {reason}")
    return spec
