"""Loss specs: frozen, JSON round-trippable, rendered as a readable formula.

Kinds, with p_t the predicted probability of the labelled class:

* ``ce`` (cross-entropy, optional label smoothing), ``focal`` (Lin et al. 2017), ``poly1``
  (Leng et al. 2022: CE + eps * (1 - p_t)) and ``composite`` (a weighted sum of primitive terms);
* for noisy labels: ``gce`` (Zhang and Sabuncu 2018: (1 - p_t^q) / q), ``sce`` (Wang et al.
  2019: alpha * CE + beta * RCE, RCE = -A * (1 - p_t) with A = log 1e-4), ``nce_rce`` (Ma et
  al. 2020: alpha * CE / sum_k(-log p_k) + beta * RCE) and ``bootstrap`` (Reed et al. 2015,
  soft: the target is label_weight * label + (1 - label_weight) * the prediction);
* for long tails (π: the training class frequencies): ``logit_adjust`` (Menon et al. 2021: CE
  on z + tau * log π), ``balanced_softmax`` (Ren et al. 2020: CE on z + log π, the same loss
  as logit_adjust with tau = 1, kept under its own name) and ``ldam`` (Cao et al. 2019: CE on
  z with the labelled logit lowered by m_y ∝ n_y^(-1/4), the largest margin ``margin``);
* ``symbolic``: a searched expression (``expr.py``) over p_t, log p_t, the margin and π_t,
  optionally on prior-adjusted logits (``tau``).

Any spec may carry ``class_balanced_beta`` (Cui et al. 2019); a composite carries it for all its
terms, which therefore carry none themselves. ``reweight_from`` defers that weighting to the
last part of training (Cao et al.'s deferred re-weighting, DRW): 0.8 weights from the epoch
after 80 % of the candidate's own epoch count.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from search_spaces._fields import as_choice, as_float, as_tuple, check_keys, set_field
from search_spaces.loss.expr import Expr
from search_spaces.loss.kinds import LOSS_KINDS, LOSS_SPEC_KINDS, PRIMITIVE_KINDS, num


@dataclass(frozen=True)
class LossTerm:
    """``weight * loss`` inside a composite; ``loss`` is a primitive spec."""

    weight: float
    loss: LossSpec

    def __post_init__(self) -> None:
        weight = as_float("LossTerm", "weight", self.weight, 0.0)
        if weight == 0.0:
            raise ValueError("LossTerm.weight: need > 0, got 0")
        set_field(self, "weight", weight)
        if not isinstance(self.loss, LossSpec) or self.loss.kind not in PRIMITIVE_KINDS:
            raise ValueError(f"LossTerm.loss: need a {'/'.join(PRIMITIVE_KINDS)} LossSpec")
        if self.loss.class_balanced_beta is not None:
            raise ValueError("LossTerm.loss.class_balanced_beta: set it on the composite")

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "loss": self.loss.to_dict()}

    @classmethod
    def from_dict(cls, d: Any) -> LossTerm:
        check_keys("LossTerm", d, ("weight", "loss"), ("weight", "loss"))
        return cls(d["weight"], LossSpec.from_dict(d["loss"]))


@dataclass(frozen=True)
class LossSpec:
    """One loss. Build it with :func:`~search_spaces.loss.build.build_loss`.

    ``label_smoothing`` in [0, 1) (ce, focal, poly1); ``gamma`` >= 0 (focal); ``epsilon`` >= -1
    (poly1); ``terms`` (composite, at least two); ``q`` in (0, 1] (gce); ``alpha``, ``beta`` >= 0,
    not both 0 (sce, nce_rce); ``label_weight`` in [0.5, 1] (bootstrap); ``tau`` in [0, 4]
    (logit_adjust, symbolic); ``margin`` in (0, 4] (ldam); ``expression`` (symbolic);
    ``class_balanced_beta`` in [0, 1) or None; ``reweight_from`` in [0, 1) (needs a beta).
    """

    kind: str
    label_smoothing: float = 0.0
    gamma: float = 0.0
    epsilon: float = 0.0
    terms: tuple[LossTerm, ...] = ()
    q: float = 0.7
    alpha: float = 1.0
    beta: float = 1.0
    label_weight: float = 0.95
    tau: float = 1.0
    margin: float = 0.5
    expression: Expr | None = None
    class_balanced_beta: float | None = None
    reweight_from: float = 0.0

    def __post_init__(self) -> None:
        w = "LossSpec"
        kind = as_choice(w, "kind", self.kind, LOSS_SPEC_KINDS.ordered())
        set_field(self, "kind", kind)
        params = LOSS_SPEC_KINDS.get(kind).params
        ls = as_float(w, "label_smoothing", self.label_smoothing, 0.0, 1.0, hi_open=True)
        set_field(self, "label_smoothing", ls)
        set_field(self, "gamma", as_float(w, "gamma", self.gamma, 0.0))
        set_field(self, "epsilon", as_float(w, "epsilon", self.epsilon, -1.0))
        set_field(self, "terms", as_tuple(w, "terms", self.terms, _term, nonempty=False))
        self._check_new_fields(w)
        if self.class_balanced_beta is not None:
            beta = as_float(
                w, "class_balanced_beta", self.class_balanced_beta, 0.0, 1.0, hi_open=True
            )
            set_field(self, "class_balanced_beta", beta)
        reweight = as_float(w, "reweight_from", self.reweight_from, 0.0, 1.0, hi_open=True)
        if reweight and self.class_balanced_beta is None:
            raise ValueError(f"{w}.reweight_from: needs class_balanced_beta (what to weight by)")
        set_field(self, "reweight_from", reweight)
        for field, default in _DEFAULTS.items():
            if field not in params and getattr(self, field) != default:
                takers = [k for k in LOSS_KINDS if field in LOSS_SPEC_KINDS.get(k).params]
                raise ValueError(f"{w}.{field}: only {'/'.join(takers)} takes it, not {kind}")
        if "terms" in params and len(self.terms) < 2:
            raise ValueError(f"{w}.terms: a composite needs at least two terms")
        if "expression" in params and self.expression is None:
            raise ValueError(f"{w}.expression: a symbolic loss needs an expression")

    def _check_new_fields(self, w: str) -> None:
        q = as_float(w, "q", self.q, 0.0, 1.0)
        if q == 0.0:
            raise ValueError(f"{w}.q: need a value in (0, 1], got 0 (that limit is ce)")
        set_field(self, "q", q)
        set_field(self, "alpha", as_float(w, "alpha", self.alpha, 0.0, 100.0))
        set_field(self, "beta", as_float(w, "beta", self.beta, 0.0, 100.0))
        if self.alpha == 0.0 and self.beta == 0.0:
            raise ValueError(f"{w}.alpha, beta: need at least one above 0")
        set_field(self, "label_weight", as_float(w, "label_weight", self.label_weight, 0.5, 1.0))
        set_field(self, "tau", as_float(w, "tau", self.tau, 0.0, 4.0))
        margin = as_float(w, "margin", self.margin, 0.0, 4.0)
        if margin == 0.0:
            raise ValueError(f"{w}.margin: need a value in (0, 4], got 0")
        set_field(self, "margin", margin)
        if self.expression is not None and not isinstance(self.expression, Expr):
            raise ValueError(f"{w}.expression: need an Expr, got "
                             f"{type(self.expression).__name__}")

    # Shorthands: LossSpec.composite((1.0, LossSpec.ce(0.1)), (0.5, LossSpec.focal(2.0))).
    @classmethod
    def ce(cls, label_smoothing: float = 0.0, beta: float | None = None) -> LossSpec:
        return cls("ce", label_smoothing=label_smoothing, class_balanced_beta=beta)

    @classmethod
    def focal(
        cls, gamma: float, label_smoothing: float = 0.0, beta: float | None = None
    ) -> LossSpec:
        return cls("focal", gamma=gamma, label_smoothing=label_smoothing, class_balanced_beta=beta)

    @classmethod
    def poly1(
        cls, epsilon: float, label_smoothing: float = 0.0, beta: float | None = None
    ) -> LossSpec:
        return cls(
            "poly1", epsilon=epsilon, label_smoothing=label_smoothing, class_balanced_beta=beta
        )

    @classmethod
    def composite(cls, *terms: tuple[float, LossSpec], beta: float | None = None) -> LossSpec:
        made = tuple(LossTerm(w, spec) for w, spec in terms)
        return cls("composite", terms=made, class_balanced_beta=beta)

    @property
    def formula(self) -> str:
        """E.g. ``CE(ls=0.1)``, ``Focal(γ=2)``, ``CE + 1.0·(1−p_t)``,
        ``CE(ls=0.1) + 0.5·Focal(γ=2) [CB β=0.999]``."""
        text = self._body()
        if self.class_balanced_beta is not None:
            start = f" from {num(100 * self.reweight_from)}%" if self.reweight_from else ""
            text += f" [CB β={num(self.class_balanced_beta)}{start}]"
        return text

    def _body(self) -> str:
        return LOSS_SPEC_KINDS.get(self.kind).body(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with only the fields this kind takes."""
        d: dict[str, Any] = {"kind": self.kind}
        for field in LOSS_SPEC_KINDS.get(self.kind).params:
            value = getattr(self, field)
            if field == "terms":
                value = [t.to_dict() for t in value]
            elif field == "expression":
                value = value.to_dict()
            d[field] = value
        d["class_balanced_beta"] = self.class_balanced_beta
        if self.reweight_from:
            d["reweight_from"] = self.reweight_from
        return d

    @classmethod
    def from_dict(cls, d: Any) -> LossSpec:
        kind = d.get("kind") if isinstance(d, dict) else d
        if not isinstance(d, dict) or not isinstance(kind, str) or kind not in LOSS_SPEC_KINDS:
            known = ", ".join(LOSS_SPEC_KINDS.ordered())
            raise ValueError(f"LossSpec.kind: unknown kind {kind!r}; known: {known}")
        spec_kind = LOSS_SPEC_KINDS.get(kind)
        allowed = ("kind", "class_balanced_beta", "reweight_from", *spec_kind.params)
        check_keys("LossSpec", d, allowed, ("kind", *spec_kind.required))
        if "terms" in d:
            d = {**d, "terms": as_tuple("LossSpec", "terms", d["terms"], _term_from_dict)}
        if "expression" in d:
            d = {**d, "expression": Expr.from_dict(d["expression"])}
        return cls(**d)


# Every parameter field and its default: a kind that does not take one must leave it so.
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(LossSpec)
             if f.name not in ("kind", "class_balanced_beta", "reweight_from")}


def _term(field: str, t: Any) -> LossTerm:
    if not isinstance(t, LossTerm):
        raise ValueError(f"LossSpec.{field}: need a LossTerm, got {type(t).__name__}")
    return t


def _term_from_dict(field: str, t: Any) -> LossTerm:
    return LossTerm.from_dict(t)


def loss_to_dict(spec: LossSpec) -> dict[str, Any]:
    """The spec as plain JSON types."""
    return spec.to_dict()


def loss_from_dict(d: Any) -> LossSpec:
    """Rebuild a spec from :func:`loss_to_dict`'s output (or its JSON round trip)."""
    return LossSpec.from_dict(d)


def formula(spec: LossSpec) -> str:
    """``spec.formula``."""
    return spec.formula
