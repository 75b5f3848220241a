"""Storage URLs, parsed once into a :class:`StorageUrl`, and the default URL. No database
access.

The parse cuts the URL at its credentials with :func:`~automl.storage.masking.split`, the cut
masking uses too (so what is masked is what is sent as the password), then reads the host,
port, database and query itself: SQLAlchemy's parser is never given a URL (it ends a password
at the first ``@`` and lets ``int()`` fail on a port). Anything that cannot be used (a port that
is no number or out of range, a host with spaces, a control character, an unknown database or
driver, a SQLite URL with a host...) is one :class:`~automl.errors.StorageError` line that says
what, with the password masked; the command line, the dashboard and the API all open storage
through this.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from automl.errors import StorageError
from automl.storage.masking import MASK, Split, mask_text, mask_url, secrets_of, split

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["DEFAULT_URL", "ENV_VAR", "MASK", "StorageUrl", "default_artifacts", "mask_text",
           "mask_url", "resolve_url", "secrets_of", "sqlite_path"]

DEFAULT_URL = "sqlite:///automl.db"
ENV_VAR = "AUTOML_STORAGE"
EXAMPLE = ("e.g. sqlite:///relative.db, sqlite:////absolute.db or "
           "postgresql+psycopg://user@host:5432/db")
# What Python's sqlite3 driver takes from a URL without uri=true (SQLAlchemy drops the rest
# with a warning); with uri=true SQLite itself checks its parameters.
_PYSQLITE_ARGS = ("uri", "timeout", "isolation_level", "detect_types", "check_same_thread",
                  "cached_statements")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\+[A-Za-z][A-Za-z0-9_]*)?")
_HOST = re.compile(r"[\w.\-~%]*")  # a name (IDNs too), an IPv4 address, or none (a socket)
_IPV6 = re.compile(r"\[([0-9A-Fa-f:.]+(?:%[\w.\-~]+)?)\](?::(.*))?", re.S)


@dataclass(frozen=True)
class StorageUrl:
    """A storage URL parsed once: what messages show (``masked``; :meth:`mask` for a driver's
    text), what engines connect to (``sqlalchemy``), the back end and its host, and the SQLite
    file (None: a server database, or SQLite in memory). Its repr never holds the password."""

    masked: str
    secrets: tuple[str, ...] = field(repr=False)  # every spelling, longest first
    backend: str  # "sqlite", "postgresql", "mysql"...
    driver: str  # "psycopg", "pysqlite"...; "": the back end's default
    host: str | None
    sqlite_file: Path | None
    sqlalchemy: URL = field(repr=False)

    @classmethod
    def parse(cls, url: str) -> StorageUrl:
        """Parse ``url``; raises one :class:`StorageError` line (password masked) that names
        what is wrong."""
        masked, secrets = mask_url(url), tuple(secrets_of(url))
        try:
            parsed, db_file = _parse(url)
        except _Bad as exc:
            raise StorageError(f"storage URL {masked!r} is not a valid SQLAlchemy URL: "
                               f"{mask_text(str(exc), secrets)} ({EXAMPLE})") from None
        backend, _, driver = parsed.drivername.partition("+")
        return cls(masked, secrets, backend, driver, parsed.host, db_file, parsed)

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    def connect_string(self) -> str:
        """The URL as a driver reads it, password included: for Optuna, never for a message."""
        return self.sqlalchemy.render_as_string(hide_password=False)

    def mask(self, text: str) -> str:
        """``text`` (a driver's error) with this URL's secrets masked, however it spells them."""
        return mask_text(text, self.secrets)

    def check_file(self, *, exists: bool) -> None:
        """A SQLite file's folder exists, and the file too where ``exists`` (one line each)."""
        db_file = self.sqlite_file
        if db_file is None:
            return
        try:
            if db_file.is_dir():
                raise StorageError(f"{db_file}: a folder, not a database file (storage "
                                   f"{self.masked})")
            if exists and not db_file.exists():
                raise StorageError(f"{db_file}: database file not found (storage {self.masked})")
            if not db_file.parent.exists():
                raise StorageError(f"{db_file.parent}: folder of the database does not exist")
        except OSError as exc:  # a name too long, a folder that cannot be searched...
            raise StorageError(f"{db_file}: {exc.strerror or exc} (storage {self.masked})"
                               ) from None

    def default_artifacts(self) -> Path:
        """Weights go next to a SQLite file; for a server database, under the working
        directory (resolved now)."""
        base = self.sqlite_file.parent if self.sqlite_file is not None else Path.cwd()
        return (base / "automl_artifacts").resolve()

    def artifacts_root(self, artifacts: str | Path | None) -> Path:
        """The artifacts root of a study on this database: ``artifacts`` (``study.artifacts``)
        resolved against the working directory, else :meth:`default_artifacts`. The one
        rule: the store saves weights there and the search checks it before any trial."""
        return Path(artifacts).resolve() if artifacts else self.default_artifacts()


def resolve_url(url: str | None) -> str:
    """``--storage`` wins, then ``$AUTOML_STORAGE``, then ``sqlite:///automl.db``."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other back ends and in-memory SQLite."""
    return StorageUrl.parse(url).sqlite_file


def default_artifacts(url: str) -> Path:
    """Weights go next to a SQLite file; for a server database, under the working directory."""
    return StorageUrl.parse(url).default_artifacts()


class _Bad(ValueError):
    """What makes a URL unusable: a clause of the one-line error."""


def _parse(url: str) -> tuple[URL, Path | None]:
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise _Bad("it holds a control character")
    parts = split(url)
    if parts is None or not parts.sep:
        raise _Bad("expected DATABASE[+DRIVER]://...")
    if not _SCHEME.fullmatch(parts.scheme):
        raise _Bad(f"{parts.scheme!r} is not a database[+driver] name" if parts.scheme
                   else "no database name before '://'")
    parsed, db_file = _sqlite(parts) if parts.scheme.partition("+")[0] == "sqlite" else (
        _server(parts), None)
    _check_dialect(parsed)
    return parsed, db_file


def _server(parts: Split) -> URL:
    from sqlalchemy.engine import URL

    hostport = re.split(r"[/?]", parts.rest, maxsplit=1)[0]
    tail = parts.rest[len(hostport):]
    host, port = _host_port(hostport)
    database, query = None, tail[1:]
    if tail.startswith("/"):
        path, _, query = tail[1:].partition("?")
        database = unquote(path)
    return URL.create(
        parts.scheme, username=None if parts.user is None else unquote(parts.user),
        password=None if parts.password is None else unquote(parts.password),
        host=host, port=port, database=database, query=_query(query))


def _host_port(text: str) -> tuple[str | None, int | None]:
    if text.startswith("["):
        m = _IPV6.fullmatch(text)
        if m is None:
            raise _Bad(f"host {text!r} is not an [IPv6] address")
        host, port = m.group(1), m.group(2)
    else:
        host, colon, port = text.partition(":")
        if not _HOST.fullmatch(host):
            raise _Bad(f"host {host!r} is not a host name")
    if not port:  # "host:" means the default port, as in SQLAlchemy
        return host or None, None
    if not (port.isascii() and port.isdigit()):
        raise _Bad(f"port {port!r} is not a number")
    if not 1 <= int(port) <= 65535:  # libpq reads port 0 as "the default": another server
        raise _Bad(f"port {int(port)} is out of range (1 to 65535)")
    return host or None, int(port)


def _sqlite(parts: Split) -> tuple[URL, Path | None]:
    from sqlalchemy.engine import URL

    if parts.user is not None:
        raise _Bad("a SQLite URL takes no user or password")
    if parts.rest[:1] not in ("", "/", "?"):
        raise _Bad("a SQLite URL names a file, not a host")
    head, _, query = parts.rest.partition("?")
    database = unquote(head[1:]) if head else None
    parsed = URL.create(parts.scheme, database=database, query=_query(query))
    unknown = sorted(set(parsed.query) - set(_PYSQLITE_ARGS))
    if unknown and not _is_uri(parsed) and parts.scheme in ("sqlite", "sqlite+pysqlite"):
        raise _Bad(f"SQLite takes no {unknown[0]!r} parameter (SQLite URI ones need uri=true)")
    return parsed, _sqlite_file(parsed)


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if _is_uri(url):  # sqlite:///file:PATH?mode=ro&uri=true
        if url.query.get("mode") == "memory":
            return None
        database = database.removeprefix("file:") if database else database
    if not database or database == ":memory:":
        return None
    path = Path(database)
    if database.endswith("/") or path.name in ("", ".", ".."):
        raise _Bad(f"the SQLite path {database!r} names a folder, not a file")
    return path


def _is_uri(url: URL) -> bool:
    """Whether SQLite reads the database as a URI (``uri=true``, as the driver reads it)."""
    value = url.query.get("uri")
    return isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "y", "t",
                                                                "1")


def _query(text: str) -> dict[str, str | list[str]]:
    """A query string as SQLAlchemy reads it: a repeated key gives a list."""
    query: dict[str, str | list[str]] = {}
    for key, value in parse_qsl(text):
        old = query.get(key)
        query[key] = value if old is None else [*([old] if isinstance(old, str) else old), value]
    return query


def _check_dialect(url: URL) -> None:
    from sqlalchemy.exc import ArgumentError

    try:
        url.get_dialect()  # the dialect's module only: the driver is imported on connecting
    except ArgumentError:
        hint = " (did you mean postgresql+psycopg?)" if url.drivername == "postgres" else ""
        raise _Bad(f"no database or driver named {url.drivername!r}{hint}") from None
