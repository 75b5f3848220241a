"""What the search tells a progress display: a protocol and its silent default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from trainer import EpochRecord


class Reporter(Protocol):
    """What the controller tells a progress display (all methods optional no-ops)."""

    def trial_started(self, number: int, summary: str) -> None: ...
    def epoch_done(self, number: int, record: EpochRecord, epochs: int) -> None: ...


class NullReporter:
    def trial_started(self, number: int, summary: str) -> None:
        pass

    def epoch_done(self, number: int, record: EpochRecord, epochs: int) -> None:
        pass
