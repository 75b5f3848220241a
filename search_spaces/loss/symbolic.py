"""Evaluating a loss expression (``expr.py``) on a batch: a fixed table of operations, with
log and pow floored and exp capped so a sampled expression stays finite where it can."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from search_spaces.loss.expr import Expr

_FLOOR = 1e-12  # log, pow: of values at least this
_EXP_CAP = 30.0  # exp of values at most this


def evaluate(expr: Expr, leaves: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The expression's per-sample value; ``leaves`` maps p, logp, margin, prior to ``(N,)``."""
    op, args = expr.op, expr.args
    if op == "const":
        return torch.full_like(leaves["p"], expr.value)
    if not args:
        return leaves[op]
    a = evaluate(args[0], leaves)
    if op == "neg":
        return -a
    if op == "log":
        return a.clamp(min=_FLOOR).log()
    if op == "exp":
        return a.clamp(max=_EXP_CAP).exp()
    if op == "one_minus":
        return 1.0 - a
    if op == "square":
        return a * a
    if op == "softplus":
        return F.softplus(a)
    if op == "pow":
        k = args[1].value
        return a.pow(k) if float(k).is_integer() and k >= 0 else a.clamp(min=_FLOOR).pow(k)
    b = evaluate(args[1], leaves)
    return a + b if op == "add" else a * b
