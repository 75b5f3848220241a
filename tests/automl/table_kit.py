"""A CRM-style table for the table tests (issue 23): text, integer codes, flags, missing values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

STATES = ["KS", "OH", "NJ", "TX", "AL", "MA", "WV", "NY"]


def churn_like(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A CRM-style table: a state code, an integer area code, yes/no and True/False flags,
    numeric usage with missing values, and the label ``churn`` = yes/no last. The label
    depends on the plan, the usage and the state, so a model can learn it."""
    rng = np.random.default_rng(seed)
    state = rng.choice(STATES, n)
    plan = rng.choice(["yes", "no"], n, p=[0.3, 0.7])
    minutes = rng.normal(180, 50, n).round(1)
    calls = rng.integers(0, 9, n)
    score = (plan == "yes") * 1.5 + (minutes - 180) / 40 + np.isin(state, ["TX", "NY"]) - 0.5
    churn = np.where(score + rng.normal(0, 0.5, n) > 0.5, "yes", "no")
    frame = pd.DataFrame({
        "rowid": np.arange(n), "state": state, "area_code": rng.choice([408, 415, 510], n),
        "international_plan": plan, "total_minutes": minutes, "service_calls": calls,
        "vip": rng.choice([True, False], n), "churn": churn})
    frame.loc[rng.random(n) < 0.1, "total_minutes"] = np.nan
    frame.loc[rng.random(n) < 0.05, "state"] = None
    return frame


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "t.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path
