"""Loss expressions: a small, safe tree over the true-class probability, for ``symbolic`` losses.

A node is a leaf (``p``: the true-class probability p_t, ``logp``: log p_t, ``margin``: the
true-class logit minus the largest other one, ``prior``: the training frequency π_t of the true
class), a constant, a unary operation (``neg``, ``log``, ``exp``, ``one_minus``, ``square``,
``softplus``) or a binary one (``add``, ``mul``, ``pow`` with a constant exponent). Trees are
plain data: they are read from JSON with a depth and size limit and evaluated by a fixed table
of operations (``build.py``), never by ``eval``; so a spec from a hostile bundle can at worst
be refused. Rendered as a formula: ``−log p_t + 0.5·(1−p_t)²``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_spaces._fields import as_choice, as_float, as_tuple, check_keys, set_field
from search_spaces.registry import FieldError

LEAVES = {"p": "p_t", "logp": "log p_t", "margin": "m", "prior": "π_t"}
UNARY = ("neg", "log", "exp", "one_minus", "square", "softplus")
BINARY = ("add", "mul", "pow")
OPS = (*LEAVES, "const", *UNARY, *BINARY)
MAX_DEPTH, MAX_NODES = 8, 64
_ARITY = {**{k: 0 for k in (*LEAVES, "const")}, **dict.fromkeys(UNARY, 1),
          **dict.fromkeys(BINARY, 2)}


@dataclass(frozen=True)
class Expr:
    """One node; ``value`` only for ``const``; ``pow``'s exponent is a ``const`` in [-4, 4]."""

    op: str
    args: tuple[Expr, ...] = ()
    value: float = 0.0

    def __post_init__(self) -> None:
        w = "Expr"
        op = as_choice(w, "op", self.op, OPS)
        args = as_tuple(w, "args", self.args, _node, nonempty=False)
        if len(args) != _ARITY[op]:
            raise FieldError(f"{w}.args", f"{op} takes {_ARITY[op]} argument(s), got {len(args)}")
        value = as_float(w, "value", self.value, -1e6, 1e6)
        if op != "const" and value != 0.0:
            raise FieldError(f"{w}.value", f"only const takes a value, not {op}")
        if op == "pow" and (args[1].op != "const" or abs(args[1].value) > 4):
            raise FieldError(f"{w}.args", "pow's exponent must be a const in [-4, 4]")
        set_field(self, "op", op)
        set_field(self, "args", args)
        set_field(self, "value", value)
        if self.depth > MAX_DEPTH or self.size > MAX_NODES:
            raise FieldError(w, f"an expression may have depth <= {MAX_DEPTH} and <= "
                             f"{MAX_NODES} nodes")

    @property
    def depth(self) -> int:
        return 1 + max((a.depth for a in self.args), default=0)

    @property
    def size(self) -> int:
        return 1 + sum(a.size for a in self.args)

    def leaves(self) -> set[str]:
        """The leaf names it reads."""
        own = {self.op} if self.op in LEAVES else set()
        return own.union(*(a.leaves() for a in self.args))

    def to_dict(self) -> dict[str, Any]:
        if self.op == "const":
            return {"op": "const", "value": self.value}
        if not self.args:
            return {"op": self.op}
        return {"op": self.op, "args": [a.to_dict() for a in self.args]}

    @classmethod
    def from_dict(cls, d: Any, depth: int = 1) -> Expr:
        if depth > MAX_DEPTH:  # checked before recursing: a hostile nesting stops here
            raise FieldError("Expr", f"an expression may have depth <= {MAX_DEPTH}")
        check_keys("Expr", d, ("op", "args", "value"), ("op",))
        args = d.get("args", [])
        if not isinstance(args, list):
            raise FieldError("Expr.args", f"need a list, got {type(args).__name__}")
        return cls(d["op"], tuple(cls.from_dict(a, depth + 1) for a in args),
                   d.get("value", 0.0))

    def render(self) -> str:
        """Infix, with ``·`` for products and ``−`` for subtraction."""
        return _render(self)

    # Short builders for the spaces and tests: Expr.leaf("p"), Expr.const(0.5), ...
    @classmethod
    def leaf(cls, name: str) -> Expr:
        return cls(name)

    @classmethod
    def const(cls, value: float) -> Expr:
        return cls("const", value=value)

    @classmethod
    def of(cls, op: str, *args: Expr) -> Expr:
        return cls(op, args)


def _node(field: str, a: Any) -> Expr:
    if not isinstance(a, Expr):
        raise FieldError(f"Expr.{field}", f"need an Expr, got {type(a).__name__}")
    return a


def _num(x: float) -> str:
    return f"{x:g}".replace("-", "−")


_CALLS = ("log", "exp", "softplus")


def _tight(e: Expr) -> bool:
    """Reads as one unit beside ``·``, ``²`` or ``^``: no parentheses needed."""
    return (e.op in LEAVES or e.op in (*_CALLS, "square", "pow")
            or (e.op == "const" and e.value >= 0))


def _wrap(e: Expr, also: tuple[str, ...] = ()) -> str:
    text = _render(e)
    return text if _tight(e) or e.op in also else f"({text})"


def _negated(e: Expr) -> Expr | None:
    """``x`` when ``e`` reads better as ``−x`` after a ``+``: neg(x), a negative const, −c·x."""
    if e.op == "neg":
        return e.args[0]
    if e.op == "const" and e.value < 0:
        return Expr.const(-e.value)
    if e.op == "mul" and e.args[0].op == "const" and e.args[0].value < 0:
        return Expr.of("mul", Expr.const(-e.args[0].value), e.args[1])
    return None


def _render(e: Expr) -> str:
    op, a = e.op, e.args
    if op in LEAVES:
        return LEAVES[op]
    if op == "const":
        return _num(e.value)
    if op == "neg":
        return f"−{_wrap(a[0], ('mul',))}"
    if op in _CALLS:
        return f"{op}({_render(a[0])})"
    if op == "one_minus":
        return f"1−{_wrap(a[0])}"
    if op == "square":
        return f"{_wrap(a[0])}²"
    if op == "pow":
        return f"{_wrap(a[0])}^{_num(a[1].value)}"
    if op == "mul":
        return "·".join(_wrap(x, ("mul",)) for x in a)
    neg = _negated(a[1])
    if neg is not None:
        return f"{_render(a[0])} − {_wrap(neg, ('mul', 'one_minus'))}"
    return f"{_render(a[0])} + {_render(a[1])}"
