"""Storage URLs: defaults, masking, SQLite file paths. Pure functions, no database access.

Masking never trusts a URL parser: SQLAlchemy reads ``postgresql://u:p@ss@host/db`` as password
``p`` on host ``ss@host``, so the rest of the password would be shown. Here the credentials are
everything up to the *last* ``@`` of the authority; a URL with an ``@`` further right is masked
too much, never too little. Secret-looking query or connection-string parameters (``password``,
``sslpassword``, ``passfile``...) are masked wherever they appear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, unquote

DEFAULT_URL = "sqlite:///automl.db"
ENV_VAR = "AUTOML_STORAGE"
MASK = "***"
MIN_SECRET = 3  # shorter known secrets are not searched for in free text (they'd shred it)

# Parameter names whose values are secrets (or name a file of secrets): password, sslpassword,
# passfile, pwd, passwd, token, api_key, sslkey, secret...
_SECRET_KEY = r"[A-Za-z_]*(?:pass|pwd|secret|token|api_?key|sslkey|credential)[A-Za-z_]*"
_SECRET_PARAM = re.compile(r"(?i)^" + _SECRET_KEY + r"$")
# key=value in a query string or a libpq connection string: value quoted or up to a separator.
_KV = re.compile(
    r"(?i)(\b" + _SECRET_KEY + r"\s*=\s*)('(?:[^'\\]|\\.)*'|\"[^\"]*\"|"
    r"[^\s&;,)'\"]*?(?=:?(?:[\s&;,)'\"]|$)))"  # a colon that ends a clause is not the value's
)
# 'password': 'x' in a repr()ed dict (driver errors echo their connection kwargs).
_REPR = re.compile(r"(?i)(['\"]" + _SECRET_KEY + r"['\"]\s*:\s*)('(?:[^'\\]|\\.)*'|\"[^\"]*\"|"
                   r"[^\s,}]+)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]*")
# user:password@host without a scheme, in free text.
_BARE = re.compile(r"(?<![\w/:@])([\w.\-]+:)([^\s@/]+)(@[\w\[])")


def resolve_url(url: str | None) -> str:
    """``--storage`` wins, then ``$AUTOML_STORAGE``, then ``sqlite:///automl.db``."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def _split(url: str) -> tuple[str, str | None, str | None, str] | None:
    """``scheme://``, userinfo (None: none), password (None: none), the rest; None: no URL."""
    head, sep, rest = url.partition("://")
    if not sep and re.match(r"[^\s:/@=]*:[^=]*@", url):  # user:password@host, scheme forgotten
        head, rest = "", url
    elif not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", head):
        return None
    if rest.startswith("/") or "@" not in rest:  # sqlite:///path, or no credentials
        return head + sep, None, None, rest
    at = rest.rfind("@")
    userinfo, after = rest[:at], rest[at + 1:]
    user, colon, password = userinfo.partition(":")
    return head + sep, user, (password if colon else None), after


def _mask_query(rest: str) -> str:
    path, q, query = rest.partition("?")
    if not q:
        return rest
    parts = []
    for item in query.split("&"):
        key, eq, _ = item.partition("=")
        parts.append(f"{key}={MASK}" if eq and _SECRET_PARAM.match(key.strip()) else item)
    return f"{path}?{'&'.join(parts)}"


def mask_url(url: str) -> str:
    """The URL with its password and any secret parameter replaced by ``***`` (safe for logs,
    tables and pages), whatever the password holds (``@``, ``:``, ``/``, ``%40``...)."""
    parts = _split(url)
    if parts is None:
        return mask_text(url)
    scheme, user, password, rest = parts
    cred = "" if user is None else (f"{user}:{MASK}@" if password is not None else f"{user}@")
    return scheme + cred + _mask_query(rest)


def secrets_of(url: str) -> list[str]:
    """Every spelling of the URL's secrets (raw, percent-decoded, percent-encoded), longest
    first, for scrubbing messages that echo them in another form (driver errors)."""
    parts = _split(url)
    found: set[str] = set()
    if parts is not None and parts[2]:
        found.add(parts[2])
    _, _, query = url.partition("?")
    for item in query.split("&") if query else ():
        key, eq, value = item.partition("=")
        if eq and value and _SECRET_PARAM.match(key.strip()):
            found.add(value)
    for m in _KV.finditer(url):  # a libpq connection string: "host=h password='p w'"
        found.add(m.group(2).strip("'\""))
    out: set[str] = set()
    for s in found:
        out.update({s, unquote(s), unquote(s.replace("+", " ")), quote(s, safe="")})
    return sorted((s for s in out if len(s) >= MIN_SECRET), key=len, reverse=True)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask credentials anywhere in a text (error messages): URLs, ``password=...`` pairs of
    query and connection strings, ``'password': ...`` in reprs, and the given known secrets."""
    for s in secrets:
        if len(s) >= MIN_SECRET:
            text = text.replace(s, MASK)
    text = _URL.sub(_mask_match, text)
    text = _BARE.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    text = _KV.sub(lambda m: m.group(1) + MASK, text)
    return _REPR.sub(lambda m: m.group(1) + repr(MASK), text)


def _mask_match(m: re.Match[str]) -> str:
    url = m.group(0)
    bare = url.rstrip(".,;:)]}")  # "storage URL: message": the colon is the message's
    return mask_url(bare) + url[len(bare):]


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other back ends and in-memory SQLite."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    database = u.database
    if u.query.get("uri") == "true" and database.startswith("file:"):
        database = database[len("file:"):]  # sqlite:///file:PATH?mode=ro&uri=true
    return Path(database)


def default_artifacts(url: str) -> Path:
    """Weights go next to a SQLite file; for a server database, under the working directory."""
    db = sqlite_path(url)
    base = db.parent if db is not None else Path.cwd()
    return (base / "automl_artifacts").resolve()
