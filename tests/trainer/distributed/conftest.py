"""Every distributed test must leave no rank, agent or forked worker behind."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from ddp_helpers import stray_ranks


@pytest.fixture(autouse=True)
def _no_orphans() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5.0  # reaping the last rank may take a moment
    stray = stray_ranks()
    while stray and time.monotonic() < deadline:
        time.sleep(0.1)
        stray = stray_ranks()
    assert not stray, f"processes left behind: {stray}"
