"""Fixtures of the benchmark tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No socket may connect: the suite reads the data files bundled inside its packages."""

    def no_network(*_args: object) -> None:
        raise AssertionError("the suite must read the packages' bundled files, not download")

    monkeypatch.setattr(socket.socket, "connect", no_network)
