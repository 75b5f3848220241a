"""Loss kinds: the parameters each takes and how its formula reads (see ``specs.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from search_spaces.registry import Registry

LossSpec = Any  # search_spaces.loss.specs.LossSpec, which imports this module


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


# kind -> LossKind, in the order spaces offer them; filled in below.
LOSS_SPEC_KINDS: Registry[LossKind] = Registry("loss kind")


def num(x: float) -> str:
    return f"{x:g}"


def _dec(x: float) -> str:
    """A number that always shows a decimal point, so weights read as weights: ``1.0``."""
    s = num(x)
    return s if any(c in s for c in ".en") else f"{s}.0"



def _smoothing(spec: LossSpec) -> str:
    return f"ls={num(spec.label_smoothing)}" if spec.label_smoothing else ""


def _ce_body(spec: LossSpec) -> str:
    ls = _smoothing(spec)
    return f"CE({ls})" if ls else "CE"


def _focal_body(spec: LossSpec) -> str:
    return f"Focal({', '.join(filter(None, [f'γ={num(spec.gamma)}', _smoothing(spec)]))})"


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


def _pair(active: str) -> Callable[[LossSpec], str]:
    """``alpha·ACTIVE + beta·RCE``, a term left out at weight 0."""
    def body(spec: LossSpec) -> str:
        parts = [f"{_dec(w)}·{name}" for w, name in ((spec.alpha, active), (spec.beta, "RCE"))
                 if w]
        return " + ".join(parts)
    return body


def _symbolic_body(spec: LossSpec) -> str:
    text = spec.expression.render() if spec.expression is not None else "?"
    return f"{text} on z + {num(spec.tau)}·log π" if spec.tau else text


_REGISTER = LOSS_SPEC_KINDS.register
_REGISTER("ce")(LossKind(("label_smoothing",), _ce_body))
_REGISTER("focal")(LossKind(("gamma", "label_smoothing"), _focal_body))
_REGISTER("poly1")(LossKind(("epsilon", "label_smoothing"), _poly1_body, is_sum=True))
_REGISTER("composite")(LossKind(("terms",), _composite_body, required=("terms",), primitive=False))
_REGISTER("gce")(LossKind(("q",), lambda s: f"GCE(q={num(s.q)})"))
_REGISTER("sce")(LossKind(("alpha", "beta"), _pair("CE"), is_sum=True))
_REGISTER("nce_rce")(LossKind(("alpha", "beta"), _pair("NCE"), is_sum=True))
_REGISTER("bootstrap")(LossKind(("label_weight",),
                                lambda s: f"Bootstrap(β={num(s.label_weight)})"))
_REGISTER("logit_adjust")(LossKind(("tau",), lambda s: f"CE(z + {num(s.tau)}·log π)"))
_REGISTER("balanced_softmax")(LossKind((), lambda s: "BalancedSoftmax"))
_REGISTER("ldam")(LossKind(("margin",), lambda s: f"LDAM(m={num(s.margin)})"))
_REGISTER("symbolic")(LossKind(("expression", "tau"), _symbolic_body, required=("expression",),
                               primitive=False))
LOSS_KINDS = LOSS_SPEC_KINDS.ordered()
PRIMITIVE_KINDS = tuple(k for k in LOSS_KINDS if LOSS_SPEC_KINDS.get(k).primitive)
