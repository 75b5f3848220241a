"""Where a trial's weights live, and how a stored path is found again.

Layout: ``<artifacts root>/<slug>-<key>/trial_NNNNN/model.safetensors``. ``key`` is a random id
the database owns (table ``automl_study_keys``), so two databases in one folder, or two study
names that slug alike (``a/b`` and ``a_b``), never share a folder. The database stores the path
relative to the artifacts root, so a database copied or moved together with its artifacts
folder works anywhere. Paths stored by older versions are absolute and are read as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

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
