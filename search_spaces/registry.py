"""Name -> plug-in registries (after fvcore's ``Registry``).

A space registers itself with ``@ARCH_SPACES.register("cnn2d")``. Registering a name twice is an
error; looking up an unknown name lists the known ones, so a typo in a study file is answered
with the choices instead of a ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(KeyError):
    """Unknown or duplicate registry name."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0]) if self.args else ""


class FieldError(ValueError):
    """A bad value for a named field of an options or spec dataclass.

    ``field`` names it, so :func:`make_options` can prefix where the options came from
    (``search.arch_options.widths: ...``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Registry(Generic[T]):
    """A named table of plug-ins with one-line errors."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}
        self._options: dict[str, type | None] = {}

    def register(self, name: str, options: type | None = None) -> Callable[[T], T]:
        """Decorator: ``@REG.register("name", options=OptionsDataclass)``."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise RegistryError(f"{self.what} {name!r} is already registered")
            self._items[name] = obj
            self._options[name] = options
            return obj

        return deco

    def get(self, name: str) -> T:
        """The plug-in called ``name``; an unknown name raises listing the available ones."""
        try:
            return self._items[name]
        except KeyError:
            raise RegistryError(
                f"unknown {self.what} {name!r}; available: {', '.join(sorted(self._items))}"
            ) from None

    def options_type(self, name: str) -> type | None:
        """The options dataclass ``name`` was registered with (None: it takes no options)."""
        self.get(name)
        return self._options[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def ordered(self) -> tuple[str, ...]:
        """Registered names in registration order (where the order means something: a space's
        default choices, the order a message lists them in)."""
        return tuple(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {self.names()})"


def make_options(options_type: type | None, values: dict[str, Any] | None, where: str) -> Any:
    """Build a space's options dataclass from a study-file table, naming any unknown key."""
    import dataclasses

    values = dict(values or {})
    if options_type is None:
        if values:
            raise ValueError(f"{where}: this space takes no options (got {', '.join(values)})")
        return None
    fields = {f.name for f in dataclasses.fields(options_type)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]}: unknown option; allowed: {', '.join(sorted(fields))}"
        )
    try:
        return options_type(**values)
    except FieldError as e:
        raise FieldError(f"{where}.{e.field}", e.message) from None
