"""Loss specs: frozen, JSON round-trippable, rendered as a readable formula.

Kinds: ``ce`` (cross-entropy, optional label smoothing), ``focal`` (Lin et al. 2017),
``poly1`` (Leng et al. 2022: CE + eps * (1 - p_t)) and ``composite`` (a weighted sum of
primitive terms). Any spec may carry ``class_balanced_beta`` (Cui et al. 2019); a composite
carries it for all its terms, which therefore carry none themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_spaces._fields import as_choice, as_float, as_tuple, check_keys, set_field

PRIMITIVE_KINDS = ("ce", "focal", "poly1")
LOSS_KINDS = (*PRIMITIVE_KINDS, "composite")
# The parameter fields each kind takes; every other parameter must stay at its default.
_PARAMS = {
    "ce": ("label_smoothing",),
    "focal": ("gamma", "label_smoothing"),
    "poly1": ("epsilon", "label_smoothing"),
    "composite": ("terms",),
}
_DEFAULTS: dict[str, Any] = {"label_smoothing": 0.0, "gamma": 0.0, "epsilon": 0.0, "terms": ()}


def _num(x: float) -> str:
    return f"{x:g}"


def _dec(x: float) -> str:
    """A number that always shows a decimal point, so weights read as weights: ``1.0``."""
    s = _num(x)
    return s if any(c in s for c in ".en") else f"{s}.0"


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
    (poly1); ``terms`` (composite, at least two); ``class_balanced_beta`` in [0, 1) or None.
    """

    kind: str
    label_smoothing: float = 0.0
    gamma: float = 0.0
    epsilon: float = 0.0
    terms: tuple[LossTerm, ...] = ()
    class_balanced_beta: float | None = None

    def __post_init__(self) -> None:
        w = "LossSpec"
        kind = as_choice(w, "kind", self.kind, LOSS_KINDS)
        set_field(self, "kind", kind)
        ls = as_float(w, "label_smoothing", self.label_smoothing, 0.0, 1.0, hi_open=True)
        set_field(self, "label_smoothing", ls)
        set_field(self, "gamma", as_float(w, "gamma", self.gamma, 0.0))
        set_field(self, "epsilon", as_float(w, "epsilon", self.epsilon, -1.0))
        set_field(self, "terms", as_tuple(w, "terms", self.terms, _term, nonempty=False))
        if self.class_balanced_beta is not None:
            beta = as_float(
                w, "class_balanced_beta", self.class_balanced_beta, 0.0, 1.0, hi_open=True
            )
            set_field(self, "class_balanced_beta", beta)
        for field, default in _DEFAULTS.items():
            if field not in _PARAMS[kind] and getattr(self, field) != default:
                takers = [k for k, fields in _PARAMS.items() if field in fields]
                raise ValueError(f"{w}.{field}: only {'/'.join(takers)} takes it, not {kind}")
        if kind == "composite" and len(self.terms) < 2:
            raise ValueError(f"{w}.terms: a composite needs at least two terms")

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
            text += f" [CB β={_num(self.class_balanced_beta)}]"
        return text

    def _body(self) -> str:
        ls = f"ls={_num(self.label_smoothing)}" if self.label_smoothing else ""
        if self.kind == "ce":
            return f"CE({ls})" if ls else "CE"
        if self.kind == "focal":
            return f"Focal({', '.join(filter(None, [f'γ={_num(self.gamma)}', ls]))})"
        if self.kind == "poly1":
            sign = "−" if self.epsilon < 0 else "+"
            ce = f"CE({ls})" if ls else "CE"
            return f"{ce} {sign} {_dec(abs(self.epsilon))}·(1−p_t)"
        parts = []
        for term in self.terms:
            body = term.loss._body()
            if term.weight != 1.0:
                body = f"({body})" if term.loss.kind == "poly1" else body
                body = f"{_dec(term.weight)}·{body}"
            parts.append(body)
        return " + ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with only the fields this kind takes."""
        d: dict[str, Any] = {"kind": self.kind}
        for field in _PARAMS[self.kind]:
            value = getattr(self, field)
            d[field] = [t.to_dict() for t in value] if field == "terms" else value
        d["class_balanced_beta"] = self.class_balanced_beta
        return d

    @classmethod
    def from_dict(cls, d: Any) -> LossSpec:
        if not isinstance(d, dict) or d.get("kind") not in LOSS_KINDS:
            kind = d.get("kind") if isinstance(d, dict) else d
            known = ", ".join(LOSS_KINDS)
            raise ValueError(f"LossSpec.kind: unknown kind {kind!r}; known: {known}")
        params = _PARAMS[d["kind"]]
        required = ("kind", "terms") if d["kind"] == "composite" else ("kind",)
        check_keys("LossSpec", d, ("kind", "class_balanced_beta", *params), required)
        if "terms" in d:
            d = {**d, "terms": as_tuple("LossSpec", "terms", d["terms"], _term_from_dict)}
        return cls(**d)


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
