"""Weights that cannot collide or be lost: per-database study keys, relative paths, study
names that are safe in paths and terminals, and no silent adoption of a foreign study."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import optuna
import pytest

from automl.config import from_dict
from automl.errors import ConfigError
from automl.names import printable, study_name_problem
from automl.storage import open_storage
from automl.storage.artifacts import resolve, slug, trial_dir


@pytest.mark.parametrize("name", [
    "", " ", "..", ".", "...", "a/b", "a\\b", "../x", "x" * 129, "a\x1b[31mred", "a\nb",
    "tab\there", " lead", "trail ", "nul\x00", "bidi\u202eevil", "bell\x07",
])
def test_unsafe_study_names_are_refused(name: str) -> None:
    assert study_name_problem(name)
    with pytest.raises(ConfigError, match=r"^study\.name: ") as err:
        from_dict({"study": {"name": name}})
    msg = str(err.value)
    assert "\n" not in msg and "\x1b" not in msg and len(msg) < 200


@pytest.mark.parametrize("name", ["digits-demo", "a_b", "a b", "étude 1", "run:3", "x" * 128])
def test_ordinary_study_names_pass(name: str) -> None:
    assert study_name_problem(name) is None
    assert from_dict({"study": {"name": name}}).study.name == name


def test_layout_is_relative_safe_and_keyed() -> None:
    assert slug("a/b") == slug("a_b") == "a_b"  # slugs may collide: the key is what differs
    assert slug("..") == "study" and slug("étude") == "_tude"
    assert trial_dir("a b", "k1", 7) == "a_b-k1/trial_00007"
    root = Path("/nowhere")
    rel = "s-k/trial_00001/model.safetensors"
    assert resolve(rel, [root]) == root / rel
    assert resolve("../../etc/passwd", [root]) is None  # a database cannot point out of root
    assert resolve("/abs/legacy.safetensors", [root]) == Path("/abs/legacy.safetensors")
    assert resolve(None, [root]) is None


def test_printable_escapes_terminal_control() -> None:
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("plain") == "plain"


def test_two_databases_and_alike_names_never_share_a_folder(tmp_path: Path) -> None:
    one = open_storage(f"sqlite:///{tmp_path / 'one.db'}")
    two = open_storage(f"sqlite:///{tmp_path / 'two.db'}")
    assert one.artifacts_root == two.artifacts_root  # same folder beside both files
    folders = {one.artifact_dir("s", 0)[0], two.artifact_dir("s", 0)[0],
               one.artifact_dir("a_b", 0)[0], one.artifact_dir("a:b", 0)[0]}
    assert len(folders) == 4
    for folder in folders:
        assert folder.is_relative_to(one.artifacts_root)
    one.close(), two.close()


@pytest.mark.slow
def test_copied_database_and_artifacts_work_anywhere(cli, tmp_path: Path) -> None:  # noqa: ANN001
    cli("search", "--data", "digits", "--study", "s", "--trials", "2", "--epochs", "1",
        "--set", "search.arch=mlp", "--quiet")
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(str(cli.cwd / "automl.db"), moved / "automl.db")
    shutil.move(str(cli.cwd / "automl_artifacts"), moved / "automl_artifacts")
    url = f"sqlite:///{moved / 'automl.db'}"
    store = open_storage(url, create=False)
    recs = [r for r in store.trials("s") if r.state == "COMPLETE"]
    assert recs
    for rec in recs:  # resolved under the new place, not the old one
        assert Path(rec.artifact_path).is_file()
        assert Path(rec.artifact_path).is_relative_to(moved)
    store.close()
    out = tmp_path / "bundle"
    cli("export", "s", "--storage", url, "--trial", "best", "--out", str(out))
    assert json.loads((out / "spec.json").read_text())["study"] == "s"


def test_foreign_study_is_not_adopted_silently(cli) -> None:  # noqa: ANN001
    url = f"sqlite:///{cli.cwd / 'automl.db'}"
    optuna.create_study(study_name="theirs", storage=url,
                        directions=["maximize", "minimize"])
    proc = cli("search", "--data", "digits", "--study", "theirs", "--trials", "1", "--epochs",
               "1", "--set", "search.arch=mlp", "--quiet", check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not created by automl" in lines[0] and "study.adopt" in lines[0]
    proc = cli("search", "--data", "digits", "--study", "theirs", "--trials", "1", "--epochs",
               "1", "--set", "search.arch=mlp", "--set", "study.adopt=true", "--quiet")
    assert proc.returncode == 0
    assert len(cli.json("leaderboard", "theirs")) == 1


def test_hostile_name_from_a_database_is_shown_escaped(cli) -> None:  # noqa: ANN001
    url = f"sqlite:///{cli.cwd / 'automl.db'}"
    open_storage(url).close()  # the project's tables, as a real search would leave them
    optuna.create_study(study_name="evil\x1b[2J[/]name", storage=url, direction="maximize")
    proc = cli("studies")
    assert "\x1b[2J" not in proc.stdout and "evil" in proc.stdout
