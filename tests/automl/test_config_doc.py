"""The README's table of study-file keys is generated from the declarations and kept current."""

from __future__ import annotations

import dataclasses

from automl import config
from automl.cli import config_doc


def test_readme_table_of_keys_is_current() -> None:
    text = config_doc.README.read_text(encoding="utf-8")
    assert config_doc.render(text) == text, (
        f"README.md's table of config keys is stale; regenerate it: {config_doc.COMMAND}"
    )


def test_every_key_of_every_section_is_in_the_table() -> None:
    keys = [row[0] for row in config_doc.rows()]
    expected = [f"{name}.{f.name}" for name, cls in config.SECTIONS.items()
                for f in dataclasses.fields(cls)]
    assert keys == expected
    assert all(row[4] for row in config_doc.rows()), "every key says what it means"
