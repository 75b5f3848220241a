"""Hostile inputs for the one-line-error tests: study files, data files and loader modules
that must each be refused up front, and a runner of the CLI entry point in this process."""

from __future__ import annotations

import os
import pickle
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cli_kit import run_here

N = 40  # samples in the small data files: enough to split 20 / 20 into train, val and test
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 5))
Y = np.arange(N) % 2
MOD = f"hostile_{uuid.uuid4().hex[:8]}"  # loader modules; unique, since imports are cached


def npz(**arrays: Any) -> dict[str, Any]:
    return {"x": X, "y": Y, **arrays}


def _void() -> np.ndarray:
    return np.zeros((N, 2), dtype=[("a", "f4"), ("b", "f4")])


def _csv(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


_GOOD_ROWS = [f"{i % 7},{i % 3},{'ab'[i % 2]}" for i in range(N)]

STUDY_FILES: dict[str, bytes] = {
    "huge_int.toml": b"[study]\ntrials = " + b"1" + b"0" * 100 + b"\n",
    "huge_limit.toml": b"[limits]\nmax_params = 100000000000000000000000000000\n",
    "huge_float.toml": b"[limits]\nmax_latency_ms = 1e400\n",
    "nan_fraction.toml": b"[data]\nval_fraction = nan\n",
    "inf_timeout.toml": b"[study]\ntimeout = inf\n",
    "neg_inf_lr.toml": b"[trainer]\nlr = -inf\n",
    "nan_trial_timeout.toml": b"[trainer]\ntrial_timeout = nan\n",
    "binary.toml": bytes(range(256)) * 4,
    "latin1.toml": '[study]\nname = "café"\n'.encode("latin-1"),
    "utf16.toml": '[study]\ntrials = 3\n'.encode("utf-16"),
    "malformed.toml": b"[study\ntrials = 3\n",
    "duplicate.toml": b"[study]\ntrials = 1\ntrials = 2\n",
    "deep.toml": b"a = " + b"[" * 50000 + b"]" * 50000 + b"\n",
    "too_big.toml": b"#" * (2 << 20) + b"\n",
    "unknown_section.toml": b"[nonsense]\nx = 1\n",
    "unknown_key.toml": b"[study]\ntrails = 5\n",
    "section_scalar.toml": b"study = 5\n",
    "trials_text.toml": b'[study]\ntrials = "many"\n',
    "trials_bool.toml": b"[study]\ntrials = true\n",
    "trials_float.toml": b"[study]\ntrials = 1.5\n",
    "trials_zero.toml": b"[study]\ntrials = 0\n",
    "trials_array.toml": b"[study]\ntrials = [1]\n",
    "trials_date.toml": b"[study]\ntrials = 1979-05-27\n",
    "nul_source.toml": b'[data]\nsource = "x\\u0000.npz"\n',
    "options_scalar.toml": b"[search]\narch_options = 5\n",
    "width_inf.toml": b"[search.arch_options]\nwidths = [inf]\n",
    "seed_huge.toml": b"[study]\nseed = 9223372036854775807\n",
    "epochs_int64.toml": b"[trainer]\nepochs = 9223372036854775807\n",
}

NPZ_FILES: dict[str, dict[str, Any]] = {
    "complex_x.npz": npz(x=X + 1j),
    "complex_y.npz": npz(y=Y + 0j),
    "str_x.npz": npz(x=X.astype(str)),
    "bytes_x.npz": npz(x=X.astype("S8")),
    "date_x.npz": npz(x=np.zeros((N, 2), "datetime64[s]")),
    "record_x.npz": npz(x=_void()),
    "date_y.npz": npz(y=np.zeros(N, "datetime64[s]")),
    "nan_x.npz": npz(x=np.where(np.eye(N, 5) > 0, np.nan, X)),
    "inf_x.npz": npz(x=np.where(np.eye(N, 5) > 0, np.inf, X)),
    "neginf_x.npz": npz(x=np.where(np.eye(N, 5) > 0, -np.inf, X)),
    "overflow_x.npz": npz(x=X * 1e300),
    "near_max_x.npz": npz(x=np.clip(X * 1e38, -3e38, 3e38).astype(np.float32)),
    "nan_y.npz": npz(y=np.where(Y == 0, np.nan, 1.0)),
    "inf_y.npz": npz(y=np.where(Y == 0, np.inf, 1.0)),
    "frac_y.npz": npz(y=Y + 0.5),
    "y_2d.npz": npz(y=np.stack([Y, Y], 1)),
    "x_1d.npz": npz(x=X[:, 0]),
    "x_5d.npz": npz(x=np.zeros((N, 1, 1, 2, 2))),
    "x_scalar.npz": npz(x=np.float64(1.0)),
    "zero_samples.npz": {"x": np.zeros((0, 5)), "y": np.zeros(0, int)},
    "zero_features.npz": npz(x=np.zeros((N, 0))),
    "zero_width.npz": npz(x=np.zeros((N, 1, 0, 4))),
    "single_class.npz": npz(y=np.zeros(N, int)),
    "length_mismatch.npz": npz(y=Y[:-3]),
    "missing_y.npz": {"x": X},
    "missing_x.npz": {"y": Y},
    "empty_archive.npz": {},
    "x_test_alone.npz": npz(x_test=X),
    "x_test_shape.npz": npz(x_test=X[:, :3], y_test=Y),
    "y_test_new_label.npz": npz(x_test=X, y_test=Y + 5),
    "x_test_empty.npz": npz(x_test=np.zeros((0, 5)), y_test=np.zeros(0, int)),
    "x_test_complex.npz": npz(x_test=X + 1j, y_test=Y),
    "too_few_per_class.npz": {"x": X[:4], "y": np.array([0, 0, 1, 1])},
}
PICKLED_NPZ = {  # object arrays: np.savez pickles them, np.load must refuse to unpickle
    "pickled_x.npz": npz(x=np.array([object()] * N, dtype=object)),
    "pickled_y.npz": npz(y=np.array([{"a": 1}] * N, dtype=object)),
}
RAW_FILES: dict[str, bytes] = {
    "junk.npz": b"not a zip archive at all",
    "truncated.npz": b"PK\x03\x04" + b"\x00" * 20,
    "pickle.npz": pickle.dumps({"x": X, "y": Y}),
    "header_only.csv": _csv("a,b,label"),
    "empty.csv": b"",
    "binary.csv": bytes(range(128, 256)) * 8,
    "nul.csv": b"a,b,label\n1,\x002,x\n3,4,y\n",
    "ragged.csv": _csv("a,b,label", "1,2,x", "3,y", *_GOOD_ROWS[2:]),
    "text_feature.csv": _csv("a,b,label", "1,hello,x", *_GOOD_ROWS[1:]),
    "complex_feature.csv": _csv("a,b,label", "1,1+2j,x", *_GOOD_ROWS[1:]),
    "nan_feature.csv": _csv("a,b,label", "1,nan,x", *_GOOD_ROWS[1:]),
    "inf_feature.csv": _csv("a,b,label", "-inf,1,x", *_GOOD_ROWS[1:]),
    "huge_feature.csv": _csv("a,b,label", "1e999,1,x", *_GOOD_ROWS[1:]),
    "empty_label.csv": _csv("a,b,label", "1,2,", *_GOOD_ROWS[1:]),
    "nan_label.csv": _csv("a,b,label", "1,2,NaN", *_GOOD_ROWS[1:]),
    "label_only.csv": _csv("label", *"ab" * 20),
    "one_class.csv": _csv("a,b,label", *(f"{i},{i},x" for i in range(N))),
    "huge_field.csv": _csv("a,b,label", "1," + "9" * 200_000 + ",x", *_GOOD_ROWS[1:]),
    "overflow_column.csv": _csv("a,b,label", *(f"{i}e300,{i}e300,{'ab'[i % 2]}"
                                               for i in range(1, N))),
    "few_rows.csv": _csv("a,b,label", "1,2,x", "3,4,y"),
}

LOADERS = '''
import numpy as np
X = np.random.default_rng(0).normal(size=(40, 5)); Y = np.arange(40) % 2
def raises(): raise ValueError("the bucket is empty")
def raises_multiline(): raise RuntimeError("line one\\nline two\\n  line three")
def exits_zero(): raise SystemExit(0)
def exits_three(): import sys; sys.exit(3)
def exits_text(): import sys; sys.exit("giving up")
def recursion(): return recursion()
def memory(): raise MemoryError()
def needs_args(a, b): return X, Y
def returns_none(): return None
def returns_three(): return X, Y, X
def returns_text(): return "x, y"
def returns_dict(): return {"x": X, "y": Y}
def returns_generator(): return (v for v in (X, Y))
def complex_x(): return X + 1j, Y
def object_x(): return np.array([{"a": 1}] * 40, dtype=object), Y
def ragged_x(): return [[1.0, 2.0], [3.0]] * 20, Y
def text_x(): return [["a", "b"]] * 40, Y
def mixed_labels(): return X, np.array([1, "a"] * 20, dtype=object)
def float_object_labels(): return X, np.array([0.5, 1.5] * 20, dtype=object)
def nan_labels(): return X, [float("nan"), 1.0] * 20
def single_class(): return X, [7] * 40
def zero_samples(): return np.zeros((0, 5)), []
def zero_features(): return np.zeros((40, 0)), Y
def test_without_labels(): return X, Y, X, None
def nan_test(): return X, Y, np.full((10, 5), np.nan), Y[:10]
not_a_function = 42
'''
BROKEN_MODULES = {
    f"{MOD}_syntax": "def f(:\n    return 1\n",
    f"{MOD}_import_raises": "raise ImportError('needs a GPU driver')\ndef f(): pass\n",
    f"{MOD}_import_runtime": "raise RuntimeError('no config')\ndef f(): pass\n",
    f"{MOD}_import_exits": "import sys\nsys.exit(0)\ndef f(): pass\n",
    f"{MOD}_import_keyerror": "{}['missing']\ndef f(): pass\n",
}


def write_files(d: Path) -> None:
    """Every hostile (and a few valid) file above, written into ``d``."""
    for name, data in {**STUDY_FILES, **RAW_FILES}.items():
        (d / name).write_bytes(data)
    for name, arrays in NPZ_FILES.items():
        np.savez(d / name, **arrays)
    for name, arrays in PICKLED_NPZ.items():
        np.savez(d / name, **arrays)  # allow_pickle is on when saving object arrays
    np.savez(d / "tab.npz", x=X, y=Y)
    np.savez(d / "images4d.npz", x=RNG.normal(size=(N, 1, 6, 6)), y=Y)
    (d / "folder.npz").mkdir()
    (d / "folder.toml").mkdir()
    (d / f"{MOD}.py").write_text(LOADERS)
    for name, text in BROKEN_MODULES.items():
        (d / f"{name}.py").write_text(text)


@dataclass(frozen=True)
class Run:
    code: Any
    out: str
    err: str


def run_main(args: list[str]) -> Run:
    """``automl ARGS`` through the console-script entry point, in this process and folder
    (:func:`cli_kit.run_here`; ``AUTOML_STORAGE`` as the caller set it)."""
    kept = {k: os.environ[k] for k in ("AUTOML_STORAGE",) if k in os.environ}
    proc = run_here(*args, cwd=Path.cwd(), check=False, env=kept)
    return Run(proc.returncode, proc.stdout, proc.stderr)


# -- storage URLs that cannot be used (issue 24) ---------------------------------------------
SECRET = "Hush3d"  # in every password below; it must never be printed
URL_EXAMPLE = ("e.g. sqlite:///relative.db, sqlite:////absolute.db or "
               "postgresql+psycopg://user@host:5432/db")
_PG, _H, _PW = "postgresql+psycopg", "127.0.0.1", f"u:{SECRET}-pw"
_MASKED = f"{_PG}://u:***@{_H}"
# (id, URL, its masked form, what the one error line says is wrong)
BAD_URLS: list[tuple[str, str, str, str]] = [
    ("port-text", f"{_PG}://{_PW}@{_H}:notaport/db", f"{_MASKED}:notaport/db",
     "port 'notaport' is not a number"),
    ("port-text-password-at-colon", f"{_PG}://u:p@ss:{SECRET}@{_H}:notaport/db",
     f"{_MASKED}:notaport/db", "port 'notaport' is not a number"),
    ("port-range", f"{_PG}://{_PW}@{_H}:99999/db", f"{_MASKED}:99999/db",
     "port 99999 is out of range (1 to 65535)"),
    ("port-zero", f"{_PG}://{_PW}@{_H}:0/db", f"{_MASKED}:0/db",
     "port 0 is out of range (1 to 65535)"),
    ("port-negative", f"{_PG}://{_PW}@{_H}:-1/db", f"{_MASKED}:-1/db",
     "port '-1' is not a number"),
    ("port-fullwidth-digit", f"{_PG}://{_PW}@{_H}:１/db", f"{_MASKED}:１/db",
     "port '１' is not a number"),
    ("port-two", f"{_PG}://{_PW}@{_H}:1:2/db", f"{_MASKED}:1:2/db", "port '1:2' is not a number"),
    ("ipv6-unclosed", f"{_PG}://{_PW}@[::1/db", f"{_PG}://u:***@[::1/db",
     "host '[::1' is not an [IPv6] address"),
    ("host-space", f"{_PG}://{_PW}@my host:1/db", f"{_PG}://u:***@my host:1/db",
     "host 'my host' is not a host name"),
    ("newline", f"{_PG}://{_PW}@{_H}:1/db\nx", f"{_MASKED}:1/db\nx",
     "it holds a control character"),
    ("nul-in-password", f"{_PG}://u:{SECRET}\x00x@{_H}:1/db", f"{_MASKED}:1/db",
     "it holds a control character"),
    ("no-scheme-name", f"://{_PW}@{_H}/db", f"://u:***@{_H}/db",
     "no database name before '://'"),
    ("scheme-space", f"post gres://{_PW}@{_H}/db", f"post gres://u:***@{_H}/db",
     "expected DATABASE[+DRIVER]://..."),
    ("scheme-unicode", f"pöstgres://{_PW}@{_H}/db", f"pöstgres://u:***@{_H}/db",
     "'pöstgres' is not a database[+driver] name"),
    ("dialect-unknown", f"nosuchdb://{_PW}@{_H}:1/db", f"nosuchdb://u:***@{_H}:1/db",
     "no database or driver named 'nosuchdb'"),
    ("driver-unknown", f"postgresql+nosuch://{_PW}@{_H}:1/db",
     f"postgresql+nosuch://u:***@{_H}:1/db", "no database or driver named 'postgresql+nosuch'"),
    ("postgres-alias", f"postgres://{_PW}@{_H}/db", f"postgres://u:***@{_H}/db",
     "no database or driver named 'postgres' (did you mean postgresql+psycopg?)"),
    ("scheme-forgotten", f"{_PW}@{_H}/db", f"u:***@{_H}/db", "expected DATABASE[+DRIVER]://..."),
    ("libpq-string", f"host={_H} password={SECRET}", f"host={_H} password=***",
     "expected DATABASE[+DRIVER]://..."),
    ("blank", "   ", "   ", "expected DATABASE[+DRIVER]://..."),
    ("sqlite-colon", "sqlite:", "sqlite:", "expected DATABASE[+DRIVER]://..."),
    ("sqlite-host", "sqlite://host/x.db", "sqlite://host/x.db",
     "a SQLite URL names a file, not a host"),
    ("sqlite-password", f"sqlite://{_PW}@/x.db", "sqlite://u:***@/x.db",
     "a SQLite URL takes no user or password"),
    ("sqlite-root", "sqlite:////", "sqlite:////",
     "the SQLite path '/' names a folder, not a file"),
    ("sqlite-driver", "sqlite+nosuch:///x.db", "sqlite+nosuch:///x.db",
     "no database or driver named 'sqlite+nosuch'"),
    ("sqlite-param", "sqlite:///x.db?foo=1", "sqlite:///x.db?foo=1",
     "SQLite takes no 'foo' parameter (SQLite URI ones need uri=true)"),
]


def url_error(masked: str, why: str) -> str:
    """The one line a command prints for a storage URL it cannot use."""
    return f"error: storage URL {masked!r} is not a valid SQLAlchemy URL: {why} ({URL_EXAMPLE})"
