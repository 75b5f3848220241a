"""What a search pays before its first trial (issue 24): Optuna's schema check is cached per
database, and the checks before a search still price FLOPs when a limit needs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.storage import open_storage


def test_a_too_small_limit_still_counts_flops(tmp_path: Path) -> None:
    # The lazy path must not skip a limit that needs FLOPs.
    from automl.config import from_dict
    from automl.control.run import prepare
    from automl.errors import ConfigError

    cfg = from_dict({"data": {"source": "digits"}, "limits": {"max_flops": 10},
                                 "study": {"storage": f"sqlite:///{tmp_path}/a.db"}})
    with pytest.raises(ConfigError, match="limits.max_flops"):
        prepare(cfg)


def test_optunas_schema_check_runs_once_per_database_and_optuna_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from optuna.storages._rdb import storage as rdb

    calls: list[str] = []
    real = rdb._VersionManager.check_table_schema_compatibility

    def spy(self: object) -> None:
        calls.append("check")
        real(self)  # type: ignore[arg-type]

    monkeypatch.setattr(rdb._VersionManager, "check_table_schema_compatibility", spy)
    url = f"sqlite:///{tmp_path}/s.db"
    for _ in range(3):
        st = open_storage(url)
        st.create_study("s", load_if_exists=True)  # Optuna's tables are there and usable
        st.close()
    assert calls == ["check"]  # the first open made and checked them; the others trust that

    # Another Optuna version checks again (and records itself).
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("UPDATE automl_meta SET value = '0.0.1' WHERE key = 'optuna_checked'"))
    engine.dispose()
    open_storage(url).close()
    open_storage(url).close()
    assert calls == ["check", "check"]
