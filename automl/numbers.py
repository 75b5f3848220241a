"""Numbers given on the command line, read one way by every command (issue 24).

The rule: a whole number is ASCII digits with an optional leading ``+`` or ``-`` and nothing
else: no spaces, no ``_`` separators and no digits of other scripts (Python's ``int()`` takes
``'٣'`` and ``'１'`` but not ``'²'``; here none of them is a number), at most
:data:`MAX_CHARS` characters. A decimal number (``--timeout``, ``--batch-wait-ms``) is the same
digits with an optional fraction and exponent, and finite. Then the value must lie in the
option's range. Whatever is wrong, the one error line has one shape::

    error: --top: expected a whole number from 1 to 9223372036854775807, got '²'

Every integer option and argument of every command is declared with a parser from here
(:class:`Whole`, :class:`FromSetting`, :class:`TrialChoice`): typer hands it the raw text
before the command runs, so a bad number is refused before anything is opened or bound.
``--set key=value`` values are TOML literals and are checked by the study file's own rules.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from automl.errors import ConfigError

# Trial numbers (and row counts) are stored as signed 64-bit database integers.
INT64_MAX = 2**63 - 1
MAX_CHARS = 40  # longer than any number a range here allows; int() is never handed more
_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
TRIAL_WORDS = ("best", "knee")


def _shown(value: object) -> str:
    """The value as the message quotes it; a long text cut short (repr escapes controls)."""
    if isinstance(value, str) and len(value) > MAX_CHARS:
        return f"{value[:20]!r}...({len(value)} chars)"
    return repr(value)


def _bound(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def refuse(name: str, kind: str, lo: float, hi: float, value: object, *,
           lo_open: bool = False) -> ConfigError:
    """The one error of every number argument: ``NAME: expected KIND from LO to HI, got V``."""
    span = (f"over {_bound(lo)} up to {_bound(hi)}" if lo_open
            else f"from {_bound(lo)} to {_bound(hi)}")
    return ConfigError(f"{name}: expected {kind} {span}, got {_shown(value)}")


def whole_number(value: object, name: str, lo: int, hi: int, *,
                 kind: str = "a whole number") -> int:
    """``value`` (the text typed, or an int default) as an int in ``[lo, hi]``; anything else
    raises :func:`refuse`'s :class:`ConfigError` naming ``name``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and len(value) <= MAX_CHARS and _WHOLE.fullmatch(value):
        number = int(value)  # ASCII only: the pattern holds no \d, which takes any script
    else:
        raise refuse(name, kind, lo, hi, value)
    if not lo <= number <= hi:
        raise refuse(name, kind, lo, hi, value)
    return number


def decimal_number(value: object, name: str, lo: float, hi: float, *,
                   lo_open: bool = False) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``): ASCII
    decimal or scientific notation (no ``nan``, ``inf`` or ``_``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and len(value) <= MAX_CHARS and _DECIMAL.fullmatch(value):
        number = float(value)
    else:
        number = math.nan
    low_ok = number > lo if lo_open else number >= lo
    if not (math.isfinite(number) and low_ok and number <= hi):
        raise refuse(name, "a number", lo, hi, value, lo_open=lo_open)
    return number


@dataclass(frozen=True)
class Whole:
    """A typer ``parser=``: a whole number in ``[lo, hi]`` named ``name`` in its error."""

    name: str
    lo: int
    hi: int

    def __call__(self, value: object) -> int:
        return whole_number(value, self.name, self.lo, self.hi)


@dataclass(frozen=True)
class FromSetting:
    """A typer ``parser=`` for a flag that sets a study-file key (``--trials`` sets
    ``study.trials``): the key's own declared range, read when a value is given, so the flag,
    the file and ``--set`` agree. ``label``: name the key in the error too."""

    name: str
    key: str
    whole: bool = True
    label: bool = True

    def __call__(self, value: object) -> int | float:
        import dataclasses

        from automl.config import StudyConfig
        from trainer.settings import settings_of

        section, field = self.key.split(".")
        cls = next(f.default_factory for f in dataclasses.fields(StudyConfig)
                   if f.name == section)
        rule = settings_of(cls)[field]  # type: ignore[arg-type]
        assert rule.lo is not None and rule.hi is not None, self.key
        name = f"{self.name} ({self.key})" if self.label else self.name
        if self.whole:
            return whole_number(value, name, int(rule.lo), int(rule.hi))
        return decimal_number(value, name, rule.lo, rule.hi, lo_open=rule.lo_open)


@dataclass(frozen=True)
class TrialChoice:
    """A typer ``parser=`` for ``export --trial``: ``best``, ``knee`` or a trial number."""

    name: str = "--trial"

    def __call__(self, value: object) -> str | int:
        return trial_choice(value, self.name)


def trial_choice(value: object, name: str = "--trial") -> str | int:
    """``best`` / ``knee`` (any case) or a trial number in ``[0, INT64_MAX]``."""
    if isinstance(value, str) and value.strip().lower() in TRIAL_WORDS:
        return value.strip().lower()
    kind = f"{', '.join(TRIAL_WORDS)} or a whole number"
    return whole_number(value, name, 0, INT64_MAX, kind=kind)
