"""An artifacts folder the trials could not save their weights under is refused before the
search starts (one ``error:`` line naming the folder and why, exit 2), not when the first trial
finishes training, and a refused search leaves no database and no folder behind.

The suite runs as root in CI containers, where a ``chmod`` read-only folder is still writable:
the end-to-end cases use what fails for root too (a file where the folder should be, a path
under a file), a read-only file system and a denied permission are simulated (the errno the
kernel gives), and the real ``chmod`` case runs only as another user.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from cli_kit import run_here

from automl.config import from_dict
from automl.control.run import check_artifacts, open_for
from automl.errors import StorageError
from automl.storage.artifacts import check_writable

SEARCH = ("search", "--data", "digits", "--study", "s", "--trials", "1", "--epochs", "1",
          "--quiet")


def refused(tmp_path: Path, *extra: str) -> str:
    """The one error line of a search in ``tmp_path`` refused before the database is made."""
    before = sorted(tmp_path.rglob("*"))
    proc = run_here(*SEARCH, *extra, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(tmp_path.rglob("*")) == before  # no database, no folder, no probe
    return lines[0]


def test_a_file_in_place_of_the_folder_is_refused_before_the_search(tmp_path: Path) -> None:
    (tmp_path / "weights").write_text("not a folder")
    line = refused(tmp_path, "--set", f"study.artifacts='{tmp_path / 'weights'}'")
    assert line == (f"error: study.artifacts: {tmp_path / 'weights'}: not writable "
                    "(a file, not a folder)")


def test_a_folder_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    target = tmp_path / "f" / "a" / "b"
    line = refused(tmp_path, "--set", f"study.artifacts='{target}'")
    assert line == f"error: study.artifacts: {target}: not writable ({tmp_path / 'f'} is a file)"


def test_the_default_folder_beside_the_database_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "automl_artifacts").write_text("x")  # where weights of automl.db would go
    line = refused(tmp_path)
    assert line.startswith("error: study.artifacts (default): ")
    assert f"{tmp_path / 'automl_artifacts'}: not writable (a file, not a folder)" in line


@pytest.mark.parametrize("code,why", [(errno.EROFS, "read-only file system"),
                                      (errno.EACCES, "permission denied"),
                                      (errno.ENOSPC, "no space left on device")])
def test_kernel_refusals_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int,
                                   why: str) -> None:
    """Simulated: a read-only mount needs privileges, and root passes permission checks."""
    real = Path.mkdir

    def mkdir(self: Path, *args: object, **kw: object) -> None:
        if self.name.startswith(".automl-probe-"):  # the root is made, its subfolder is not
            raise OSError(code, os.strerror(code), str(self))
        real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    root = tmp_path / "new" / "artifacts"
    with pytest.raises(StorageError) as info:
        check_writable(root)
    assert str(info.value) == f"study.artifacts: {root}: not writable ({why})"
    assert list(tmp_path.iterdir()) == []  # the folders it made are removed again


def test_another_process_cleaning_up_between_the_two_steps_is_no_refusal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two terminals starting a study on a new folder (found by the two-terminal test): the
    other's check removes the folders it made right after this one made the root."""
    real, removed = Path.mkdir, []

    def mkdir(self: Path, *args: object, **kw: object) -> None:
        if self.name.startswith(".automl-probe-") and not removed:
            self.parent.rmdir()  # the other process's clean-up, between root and probe
            self.parent.parent.rmdir()
            removed.append(self.parent)
        real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    root = tmp_path / "new" / "artifacts"
    check_writable(root)
    assert removed == [root]
    assert list(tmp_path.iterdir()) == []  # and still nothing left behind


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into a read-only folder; simulated above")
def test_a_folder_without_write_permission_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(StorageError, match=r": not writable \(permission denied\)$"):
            check_writable(locked / "artifacts")
    finally:
        locked.chmod(0o755)


def test_a_writable_folder_passes_and_is_made_with_the_database(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = from_dict({"study": {"storage": f"sqlite:///{tmp_path / 'db' / 'a.db'}",
                               "artifacts": "out/weights"}})
    (tmp_path / "db").mkdir()
    check_artifacts(cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]  # the probe left nothing
    store = open_for(cfg)
    try:
        assert store.artifacts_root == tmp_path / "out" / "weights"
        assert store.artifacts_root.is_dir() and not any(store.artifacts_root.iterdir())
    finally:
        store.close()
    check_artifacts(cfg)  # an existing folder: the probe goes, the folder stays
    assert (tmp_path / "out" / "weights").is_dir()
    assert not any((tmp_path / "out" / "weights").iterdir())


def test_a_missing_database_folder_is_named_before_the_artifacts_beside_it(tmp_path: Path
                                                                            ) -> None:
    url = f"sqlite:///{tmp_path / 'gone' / 'a.db'}"
    line = refused(tmp_path, "--storage", url)
    assert line == f"error: {tmp_path / 'gone'}: folder of the database does not exist"
