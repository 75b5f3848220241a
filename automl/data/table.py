"""Tables as people have them: CSV or Parquet with a header, numeric, string, boolean and
missing values. One reader and one encoder serve search and prediction alike.

A table becomes coded rows (:mod:`search_spaces.arch.table_spec`'s format): one float per
feature column, numeric values as they are (NaN where missing), a categorical value as its
level's index in the column's sorted levels (NaN where missing, -1 for a level the levels do
not hold). The schema, ``[{"name", "kind", "levels"}]``, says how; prediction encodes new rows
with the bundle's schema, so a level never seen in training lands in the model's unknown slot.

Column kinds: numbers are numeric; strings and booleans are categorical; an integer column is
categorical only when ``data.categorical`` names it; a string column whose distinct values are
most of its rows is free text, refused unless named. Class labels stay strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import DataError, no_file

TABLE_SUFFIXES = (".csv", ".parquet")
FREE_TEXT_SHARE = 0.5  # distinct values / rows above which a string column is free text ...
FREE_TEXT_MIN = 50  # ... once it has at least this many distinct values


@dataclass(frozen=True)
class TableOptions:
    """The study file's ``data.label``, ``data.categorical`` and ``data.ignore``."""

    label: str | None = None
    categorical: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    x: np.ndarray  # (N, D) float32 coded rows
    labels: list[str]  # one per row
    columns: list[dict[str, Any]]  # the schema of x's columns
    label: str  # the label column's name


def needs_encoder(columns: list[dict[str, Any]], x: np.ndarray) -> bool:
    """Whether a table's coded rows ``x`` need the model's table encoder: a categorical column
    or a missing value. Otherwise they are plain numbers for a plain network."""
    return any(c["kind"] == "categorical" for c in columns) or bool(np.isnan(x).any())


def read_frame(path: Path, what: type[Exception] = DataError) -> Any:
    """The file as a pandas DataFrame, every failure one line naming the file."""
    import pandas as pd

    if not path.is_file():
        raise what(no_file(path))
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:  # utf-8-sig: a spreadsheet's byte-order mark must not join the first header.
            # Every cell as text: what is a number is decided per column below, and a label or
            # a code written "01" stays "01".
            frame = pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True,
                                skip_blank_lines=True, dtype=str)
    except pd.errors.EmptyDataError:
        raise what(f"{path}: expected a header row and data rows") from None
    except Exception as exc:  # pandas and pyarrow raise many types for a bad file
        text = " ".join(str(exc).split())[:200]
        raise what(f"{path}: cannot read the table ({type(exc).__name__}: {text})") from None
    if frame.empty or not len(frame.columns):
        raise what(f"{path}: expected a header row and data rows")
    # pandas renames a repeated CSV header ("a", "a.1"): read the names as written, by the
    # same parser from the same row (blank cells are unnamed columns, never repeats).
    names = [str(c) for c in frame.columns] if path.suffix == ".parquet" else _header(path)
    names = [n.strip() for n in names]
    dup = sorted({n for n in names if n and names.count(n) > 1})
    if dup:
        raise what(f"{path}: column {dup[0]!r} appears twice in the header")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _header(path: Path) -> list[str]:
    """A CSV file's header row as written (pandas' first row, read as data: not renamed)."""
    import pandas as pd

    try:
        row = pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True, header=None,
                          nrows=1, skip_blank_lines=True, dtype=str).iloc[0]
    except Exception:  # noqa: BLE001 - read whole just before: cannot fail differently here
        return []
    return ["" if pd.isna(v) else str(v) for v in row.tolist()]


def read_table(path: Path, options: TableOptions | None = None) -> Table:
    """Read a CSV or Parquet table for a search: label column ``data.label``, else ``label``,
    else the last column."""
    o = options or TableOptions()
    frame = read_frame(path)
    names = list(frame.columns)
    for field, wanted in (("data.label", [o.label] if o.label else []),
                          ("data.categorical", o.categorical), ("data.ignore", o.ignore)):
        for name in wanted:
            if name not in names:
                raise DataError(f"{field}: no column {name!r} in {path} (columns: "
                                f"{', '.join(names[:20])}{' ...' if len(names) > 20 else ''})")
    both = [n for n in o.categorical if n in o.ignore]
    if both:
        raise DataError(f"data.categorical: column {both[0]!r} is also in data.ignore; name it "
                        "in one of them")
    label = o.label or ("label" if "label" in names else names[-1])
    if label in o.ignore or label in o.categorical:
        raise DataError(f"data.label: column {label!r} is the label; it cannot also be in "
                        "data.ignore or data.categorical")
    labels = _labels(frame[label], path, label)
    features = [n for n in names if n != label and n not in o.ignore]
    if not features:
        raise DataError(f"{path}: no feature columns besides the label {label!r}")
    columns = [_column(frame[n], n, n in o.categorical, path) for n in features]
    return Table(encode(frame, columns, path), labels, columns, label)


def _labels(values: Any, path: Path, name: str) -> list[str]:
    missing = values.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(f"{path}:{_line(path, row)}: missing label in column {name!r}")
    texts = [cell_text(v) for v in values.tolist()]
    blank = [i for i, t in enumerate(texts) if not t]
    if blank:
        raise DataError(f"{path}:{_line(path, blank[0])}: missing label in column {name!r}")
    return texts


def _line(path: Path, row: int) -> str:
    """Where row ``row`` is: its line in a CSV (header is line 1), else (Parquet, rows sent to
    a model) its row."""
    return str(row + 2) if path.suffix == ".csv" else f"row {row}"


def cell_text(v: Any) -> str:
    """A cell as a level or label name: whole floats as integers (a Parquet column of integers
    with a missing value holds floats; JSON may send 415.0), booleans (Parquet, JSON) as True /
    False, text (every CSV cell) stripped and otherwise as written."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    return str(v).strip()


def _column(values: Any, name: str, named: bool, path: Path) -> dict[str, Any]:
    import pandas as pd

    kind = values.dtype.kind
    if kind in "iuf" and not named:
        return {"name": name, "kind": "numeric", "levels": []}
    text_like = isinstance(values.dtype, pd.StringDtype | pd.CategoricalDtype)
    if kind not in "iufbOSU" and not text_like:
        raise DataError(f"{path}: column {name!r} holds {values.dtype} values; name it in "
                        "data.ignore, or give numbers or text")
    present = values.dropna()
    if not named and kind in "OSU" and len(present) and not all(
            isinstance(v, bool | np.bool_) for v in present.tolist()):
        # Text that is numbers is a numeric column; mostly numbers with a stray word ("1.5",
        # "hello") is a numeric column with a typo, which encode() names, rather than
        # hundreds of number-named categories.
        numbers = pd.to_numeric(present, errors="coerce").notna().mean()
        if numbers > 0.5:
            return {"name": name, "kind": "numeric", "levels": []}
    levels = sorted({cell_text(v) for v in present.tolist()} - {""})
    if not named and len(levels) >= FREE_TEXT_MIN and len(levels) > FREE_TEXT_SHARE * len(present):
        raise DataError(f"{path}: column {name!r} looks like free text ({len(levels)} distinct "
                        f"values in {len(present)} rows); name it in data.categorical to use "
                        "it as categories, or in data.ignore")
    return {"name": name, "kind": "categorical", "levels": levels}


def encode(frame: Any, columns: list[dict[str, Any]], path: Path | str,
           what: type[Exception] = DataError) -> np.ndarray:
    """``frame``'s columns named in ``columns`` as coded rows, float32 ``(N, len(columns))``.
    A missing column, or text in a numeric column, is one line naming it; a level not among
    a column's levels codes as -1 (the model's unknown slot)."""
    import pandas as pd

    missing = [c["name"] for c in columns if c["name"] not in frame.columns]
    if missing:
        raise what(f"{path}: missing column {missing[0]!r} (the model reads "
                   f"{', '.join(c['name'] for c in columns)})")
    out = np.empty((len(frame), len(columns)), dtype=np.float32)
    for j, c in enumerate(columns):
        values = frame[c["name"]]
        if c["kind"] == "numeric":
            nums = pd.to_numeric(values, errors="coerce")
            # true/false (a JSON request's) is no number, though pandas would read it as 1/0
            flags = np.fromiter((isinstance(v, bool | np.bool_) for v in values.tolist()),
                                dtype=bool, count=len(values))
            bad = (nums.isna().to_numpy() & ~values.isna().to_numpy()) | flags
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                shown = str(values.iloc[row])[:40]
                at = _line(Path(path), row)
                raise what(f"{path}:{at}: column {c['name']!r}: {shown!r} is not a number")
            with np.errstate(over="ignore"):
                col = nums.to_numpy(dtype=np.float64).astype(np.float32)
            if np.isinf(col).any():
                row = int(np.flatnonzero(np.isinf(col))[0])
                at = _line(Path(path), row)
                raise what(f"{path}:{at}: column {c['name']!r}: value infinite or beyond the "
                           "float32 range (about 3.4e38)")
            out[:, j] = col
            continue
        index = {level: k for k, level in enumerate(c["levels"])}
        isna = values.isna().to_numpy()
        out[:, j] = [np.nan if na else index.get(cell_text(v), -1)
                     for v, na in zip(values.tolist(), isna, strict=True)]
    return out


def train_levels(columns: list[dict[str, Any]], x_train: np.ndarray,
                 *others: np.ndarray) -> list[dict[str, Any]]:
    """Each categorical column's levels cut to those the training split holds (a level seen
    only in validation or test is as unknown to the model as one seen only in production):
    recodes ``x_train`` and ``others`` in place and returns the new schema."""
    out = []
    for j, c in enumerate(columns):
        if c["kind"] != "categorical":
            out.append(c)
            continue
        codes = x_train[:, j]
        seen = np.unique(codes[~np.isnan(codes) & (codes >= 0)]).astype(np.int64)
        remap = np.full(len(c["levels"]) + 1, -1.0, dtype=np.float32)  # last: -1 stays -1
        remap[seen] = np.arange(len(seen), dtype=np.float32)
        for x in (x_train, *others):
            col = x[:, j]
            ok = ~np.isnan(col)
            col[ok] = remap[col[ok].astype(np.int64)]
        out.append({**c, "levels": [c["levels"][k] for k in seen]})
    return out


def column_specs(columns: list[dict[str, Any]], x: np.ndarray) -> tuple[Any, ...]:
    """The network's view of the schema: kinds, level counts, and which numeric columns had a
    missing value (``x``: all coded rows the search holds)."""
    from search_spaces import ColumnSpec

    return tuple(
        ColumnSpec("numeric", missing=bool(np.isnan(x[:, j]).any()))
        if c["kind"] == "numeric" else ColumnSpec("categorical", levels=max(1, len(c["levels"])))
        for j, c in enumerate(columns))
