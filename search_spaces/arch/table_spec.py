"""Specs of a table's input encoding: :class:`ColumnSpec` (one column) and :class:`TableSpec`
(the columns, how categorical ones are encoded, and the network that reads the encoded row).

A table row reaches the model as one float per column, in the order of ``columns``:
- a ``numeric`` column holds its standardized value, NaN where the value is missing;
- a ``categorical`` column holds its level's code ``0 .. levels-1``; anything else (NaN for a
  missing value, -1 for a level never seen in training, any other number) is the unknown slot.

The vocabulary (level names) is the data's business, not the network's: the spec needs only the
counts, so the same spec builds the same network whatever the levels are called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from search_spaces._fields import (
    as_bool,
    as_choice,
    as_int,
    as_tuple,
    check_keys,
    field_names,
    required_fields,
    set_field,
    to_jsonable,
)

COLUMN_KINDS = ("numeric", "categorical")
TABLE_ENCODINGS = ("embed", "onehot")
# One-hot is for few levels: a column with more is embedded even under "onehot" (its width and
# the encoder's lookup grow with the levels, and with their square).
ONEHOT_MAX_LEVELS = 64


@dataclass(frozen=True)
class ColumnSpec:
    """One input column. ``levels``: a categorical column's known levels (0 for numeric);
    ``missing``: a numeric column had missing values in training, so the encoder adds a
    0/1 indicator beside its imputed value."""

    kind: str
    levels: int = 0
    missing: bool = False

    def __post_init__(self) -> None:
        w = "ColumnSpec"
        set_field(self, "kind", as_choice(w, "kind", self.kind, COLUMN_KINDS))
        set_field(self, "levels", as_int(w, "levels", self.levels, 0))
        set_field(self, "missing", as_bool(w, "missing", self.missing))
        if (self.kind == "categorical") != (self.levels > 0):
            raise ValueError(f"{w}.levels: a categorical column needs >= 1 level, a numeric "
                             f"one 0; got {self.kind} with {self.levels}")
        if self.kind == "categorical" and self.missing:
            raise ValueError(f"{w}.missing: a categorical column's missing value is its "
                             "unknown slot; only numeric columns take an indicator")

    def width(self, encoding: str, embed_dim: int, bins: int = 0) -> int:
        """Encoded width: value or its ``bins`` piecewise-linear components (+ indicator), or
        the level's embedding / one-hot vector."""
        if self.kind == "numeric":
            return max(1, bins) + int(self.missing)
        slots = self.levels + 1  # the unknown slot
        return slots if self.onehot(encoding) else min(embed_dim, slots)

    def onehot(self, encoding: str) -> bool:
        """Whether the column is one-hot under ``encoding`` (few levels), not embedded."""
        return (self.kind == "categorical" and encoding == "onehot"
                and self.levels <= ONEHOT_MAX_LEVELS)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, d: Any) -> ColumnSpec:
        check_keys("ColumnSpec", d, field_names(cls), required_fields(cls))
        return cls(**d)


def _column(field: str, c: Any) -> ColumnSpec:
    if isinstance(c, ColumnSpec):
        return c
    if isinstance(c, dict):
        return ColumnSpec.from_dict(c)
    raise ValueError(f"TableSpec.{field}: need a ColumnSpec, got {type(c).__name__}")


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    """``body`` (any other architecture spec, sampled for the encoded width) reading the rows
    that :class:`~search_spaces.arch.table.TableEncoder` encodes: numeric values with missing
    ones imputed (the training mean, 0 after standardization) and flagged, as they are or
    piecewise-linear over ``bins`` quantile bins, and each categorical column as a learned
    ``embed_dim``-wide embedding (at most levels + 1 wide) or, under ``onehot``, one-hot when
    it has at most ``ONEHOT_MAX_LEVELS`` levels."""

    kind: str = "table"
    columns: tuple[ColumnSpec, ...]
    encoding: str = "embed"
    embed_dim: int = 8
    # Numeric columns: 0, the value itself; else its piecewise-linear encoding over ``bins``
    # bins whose edges are training quantiles (Gorishniy et al. 2022), fitted before training.
    bins: int = 0
    body: Any  # a non-table ArchSpec whose input_shape is (encoded_width,)
    # Derived, stored so that every reader of a spec's dict finds them as for the other kinds:
    # (len(columns),) and the body's classes; given (not () or 0), they must agree.
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0

    def __post_init__(self) -> None:
        w = "TableSpec"
        set_field(self, "kind", as_choice(w, "kind", self.kind, ("table",)))
        set_field(self, "columns", as_tuple(w, "columns", self.columns, _column))
        for field, want in (("input_shape", (len(self.columns),)),
                            ("num_classes", getattr(self.body, "num_classes", 0))):
            got = getattr(self, field)
            got = tuple(got) if isinstance(got, list) else got
            if got not in ((), 0) and got != want:
                raise ValueError(f"{w}.{field}: must be {want}, got {got!r}")
            set_field(self, field, want)
        set_field(self, "encoding", as_choice(w, "encoding", self.encoding, TABLE_ENCODINGS))
        set_field(self, "embed_dim", as_int(w, "embed_dim", self.embed_dim, 1))
        set_field(self, "bins", as_int(w, "bins", self.bins, 0))
        if self.bins == 1:
            raise ValueError(f"{w}.bins: 0 (values as they are) or at least 2, got 1")
        kind = getattr(self.body, "kind", None)
        if not isinstance(kind, str) or kind == "table" or not hasattr(self.body, "to_dict"):
            raise ValueError(f"{w}.body: need a non-table architecture spec, got "
                             f"{type(self.body).__name__}")
        width = self.encoded_width
        if math.prod(self.body.input_shape) != width:
            raise ValueError(f"{w}.body.input_shape: must hold the {width} encoded values, got "
                             f"{list(self.body.input_shape)}")

    @property
    def encoded_width(self) -> int:
        return sum(c.width(self.encoding, self.embed_dim, self.bins) for c in self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": [c.to_dict() for c in self.columns],
                "encoding": self.encoding, "embed_dim": self.embed_dim, "bins": self.bins,
                "body": self.body.to_dict(), "input_shape": list(self.input_shape),
                "num_classes": self.num_classes}

    @classmethod
    def from_dict(cls, d: Any) -> TableSpec:
        """``d["body"]`` must already be a spec: :func:`~search_spaces.arch.specs.arch_from_dict`
        (which knows every kind) rebuilds it first."""
        check_keys("TableSpec", d, field_names(cls), required_fields(cls))
        return cls(**d)
