"""Loss specs: frozen, JSON round-trippable, rendered as a readable formula.

Kinds: ``ce`` (cross-entropy, optional label smoothing), ``focal`` (Lin et al. 2017),
``poly1`` (Leng et al. 2022: CE + eps * (1 - p_t)) and ``composite`` (a weighted sum of
primitive terms). Any spec may carry ``class_balanced_beta`` (Cui et al. 2019); a composite
carries it for all its terms, which therefore carry none themselves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from search_spaces._fields import as_choice, as_float, as_tuple, check_keys, set_field
from search_spaces.registry import Registry


@dataclass(frozen=True)
class LossKind:
    """One kind of loss: the parameter fields it takes (every other must stay at its default),
    those a spec must give, and how its formula reads (``body``, without the class-balancing
    suffix). The builder registers the function computing it in ``build.LOSS_FUNCTIONS``."""

    params: tuple[str, ...]
    body: Callable[[LossSpec], str]
    required: tuple[str, ...] = ()
    primitive: bool = True  # may be a term of a composite
    is_sum: bool = False  # its formula is a sum, bracketed when a composite weights it


# kind -> LossKind, in the order spaces offer them; filled in below the spec classes.
LOSS_SPEC_KINDS: Registry[LossKind] = Registry("loss kind")


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
        kind = as_choice(w, "kind", self.kind, LOSS_SPEC_KINDS.ordered())
        set_field(self, "kind", kind)
        params = LOSS_SPEC_KINDS.get(kind).params
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
            if field not in params and getattr(self, field) != default:
                takers = [k for k in LOSS_KINDS if field in LOSS_SPEC_KINDS.get(k).params]
                raise ValueError(f"{w}.{field}: only {'/'.join(takers)} takes it, not {kind}")
        if "terms" in params and len(self.terms) < 2:
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
        return LOSS_SPEC_KINDS.get(self.kind).body(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with only the fields this kind takes."""
        d: dict[str, Any] = {"kind": self.kind}
        for field in LOSS_SPEC_KINDS.get(self.kind).params:
            value = getattr(self, field)
            d[field] = [t.to_dict() for t in value] if field == "terms" else value
        d["class_balanced_beta"] = self.class_balanced_beta
        return d

    @classmethod
    def from_dict(cls, d: Any) -> LossSpec:
        kind = d.get("kind") if isinstance(d, dict) else d
        if not isinstance(d, dict) or not isinstance(kind, str) or kind not in LOSS_SPEC_KINDS:
            known = ", ".join(LOSS_SPEC_KINDS.ordered())
            raise ValueError(f"LossSpec.kind: unknown kind {kind!r}; known: {known}")
        spec_kind = LOSS_SPEC_KINDS.get(kind)
        allowed = ("kind", "class_balanced_beta", *spec_kind.params)
        check_keys("LossSpec", d, allowed, ("kind", *spec_kind.required))
        if "terms" in d:
            d = {**d, "terms": as_tuple("LossSpec", "terms", d["terms"], _term_from_dict)}
        return cls(**d)


def _smoothing(spec: LossSpec) -> str:
    return f"ls={_num(spec.label_smoothing)}" if spec.label_smoothing else ""


def _ce_body(spec: LossSpec) -> str:
    ls = _smoothing(spec)
    return f"CE({ls})" if ls else "CE"


def _focal_body(spec: LossSpec) -> str:
    return f"Focal({', '.join(filter(None, [f'γ={_num(spec.gamma)}', _smoothing(spec)]))})"


def _poly1_body(spec: LossSpec) -> str:
    sign = "−" if spec.epsilon < 0 else "+"
    return f"{_ce_body(spec)} {sign} {_dec(abs(spec.epsilon))}·(1−p_t)"


def _composite_body(spec: LossSpec) -> str:
    parts = []
    for term in spec.terms:
        body = term.loss._body()
        if term.weight != 1.0:
            body = f"({body})" if LOSS_SPEC_KINDS.get(term.loss.kind).is_sum else body
            body = f"{_dec(term.weight)}·{body}"
        parts.append(body)
    return " + ".join(parts)


_REGISTER = LOSS_SPEC_KINDS.register
_REGISTER("ce")(LossKind(("label_smoothing",), _ce_body))
_REGISTER("focal")(LossKind(("gamma", "label_smoothing"), _focal_body))
_REGISTER("poly1")(LossKind(("epsilon", "label_smoothing"), _poly1_body, is_sum=True))
_REGISTER("composite")(LossKind(("terms",), _composite_body, required=("terms",), primitive=False))
LOSS_KINDS = LOSS_SPEC_KINDS.ordered()
# Every parameter field and its default: a kind that does not take one must leave it so.
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(LossSpec)
             if f.name not in ("kind", "class_balanced_beta")}
PRIMITIVE_KINDS = tuple(k for k in LOSS_KINDS if LOSS_SPEC_KINDS.get(k).primitive)


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
