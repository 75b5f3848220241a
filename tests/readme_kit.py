"""The README's code, for the tests that run it: docs that run (``from readme_kit import ...``;
``tests/`` is on ``sys.path`` through its ``conftest.py``)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block(after: str) -> str:
    """The first ```python block of the README after the text ``after``."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(after):]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, f"README: no python code block after {after!r}"
    return match.group(1)
