"""Where a trial's weights live, and how a stored path is found again.

Layout: ``<artifacts root>/<slug>-<key>/trial_NNNNN/model.safetensors``. ``key`` is a random id
the database owns (table ``automl_study_keys``), so two databases in one folder, or two study
names that slug alike (``a/b`` and ``a_b``), never share a folder. The database stores the path
relative to the artifacts root, so a database copied or moved together with its artifacts
folder works anywhere. Paths stored by older versions are absolute and are read as they are.
"""

from __future__ import annotations

import contextlib
import errno
import uuid
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

# The search's refit of its best trial (automl/control/refit.py): weights beside the trial's
# model.safetensors, and the study config key that describes it (read by export).
REFIT_FILE = "refit.safetensors"
REFIT_KEY = "_refit"
SLUG_LENGTH = 40
KEY_LENGTH = 16  # hex digits of a uuid4: 64 random bits


def new_key() -> str:
    return uuid.uuid4().hex[:KEY_LENGTH]


def slug(name: str) -> str:
    """A readable, file-system-safe prefix of a study name (not unique: the key is)."""
    s = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return s.strip(".")[:SLUG_LENGTH] or "study"


def trial_dir(study: str, key: str, number: int) -> str:
    """The relative folder of a trial's files (POSIX separators: stored in the database)."""
    return f"{slug(study)}-{key}/trial_{number:05d}"


def resolve(stored: str | None, roots: Iterable[Path]) -> Path | None:
    """The file a stored path names: an absolute (legacy) path as it is; a relative one under
    the first root that holds it (else under the first root). A relative path that climbs out
    of its root is refused (None): a database is not trusted to point anywhere."""
    if not stored:
        return None
    path = PurePosixPath(stored)
    if Path(stored).is_absolute():
        return Path(stored)
    if ".." in path.parts:
        return None
    candidates = [Path(root) / path for root in roots]
    if len(candidates) == 1:
        return candidates[0]  # the answer whether or not the file is there: no stat
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[0] if candidates else None


def artifacts_root(url: str, artifacts: str | Path | None) -> Path:
    """The artifacts root a :class:`~automl.storage.Storage` of ``url`` uses: ``artifacts``
    resolved against the working directory, else the default beside a SQLite file."""
    from automl.storage.urls import StorageUrl

    return StorageUrl.parse(url).artifacts_root(artifacts)


def check_writable(root: Path, field: str = "study.artifacts") -> None:
    """Refuse (one :class:`StorageError` line naming ``field`` and ``root``) an artifacts folder
    a trial could not save its weights under, before any trial trains: create ``root`` (and
    its missing parents), a probe folder in it (a trial's folder is one more level down) and a
    file in that, then remove all this made, so nothing is left behind either way.

    A check, not a guarantee: permissions can change after it (and root passes permission
    checks that would stop other users)."""
    from automl.errors import StorageError

    made = _missing(root)
    probe = root / f".automl-probe-{new_key()}"
    try:
        _make_probe(root, probe)
        with (probe / "weights").open("wb") as fh:
            fh.write(b"\0")  # a byte: a full disk refuses it, an empty file may pass
    except OSError as exc:
        raise StorageError(f"{field}: {root}: not writable ({_why(root, exc)})") from None
    finally:
        with contextlib.suppress(OSError):
            (probe / "weights").unlink()
        for folder in (probe, *made):  # deepest first; one another process filled stays
            with contextlib.suppress(OSError):
                folder.rmdir()


def _make_probe(root: Path, probe: Path, tries: int = 5) -> None:
    """``root`` (with its parents) and ``probe`` in it. Another process checking the same new
    folder removes the folders it made once its own probe is gone, which can be between this
    one's two steps (two terminals starting a study together): then both are made again."""
    for attempt in range(tries):
        root.mkdir(parents=True, exist_ok=True)
        try:
            probe.mkdir()
            return
        except FileNotFoundError:
            if attempt == tries - 1:
                raise


def _missing(root: Path) -> list[Path]:
    """``root`` and those of its parents that do not exist yet, deepest first."""
    out: list[Path] = []
    for path in (root, *root.parents):
        try:
            if path.exists() or path.is_symlink():
                break
        except OSError:  # cannot be searched: mkdir fails there, and made nothing above it
            break
        out.append(path)
    return out


def _why(root: Path, exc: OSError) -> str:
    """Why ``root`` cannot be written, in a few words."""
    if isinstance(exc, FileExistsError) and Path(str(exc.filename)) == root:
        return "a file, not a folder" if root.is_file() else "exists and is not a folder"
    if exc.errno == errno.ENOTDIR:
        for parent in root.parents:
            with contextlib.suppress(OSError):
                if parent.exists() and not parent.is_dir():
                    return f"{parent} is {'a file' if parent.is_file() else 'no folder'}"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
