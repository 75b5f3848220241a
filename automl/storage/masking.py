"""Where a storage URL's credentials are, and how to hide them in any text (string work only:
no URL library, no database).

:func:`split` decides where the credentials of a URL end, for masking and for connecting alike
(:class:`~automl.storage.urls.StorageUrl` builds on it): the user name runs to the first ``:``,
the password from there to the *last* ``@`` (a password pasted with ``@ : / ? #`` unencoded
stays whole), unless what comes before that ``@`` cannot be ``user[:password]`` (a user name
holding ``/ ? #``: the ``@`` is in the path or query). An ``@`` in the database name or query
must be written ``%40``; it is read as the end of the credentials otherwise (masked too much,
never too little). SQLAlchemy's own parser ends the password at the first ``@``
(``u:p@ss@host`` would connect to host ``ss@host`` and echo part of the password).
Secret-looking query or connection-string parameters (``password``, ``sslpassword``,
``passfile``...) are masked wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

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
# A URL in free text; the whole run of characters before "://" is its scheme (a mistyped one
# too). The look-behind starts a match only where a run starts: linear in a long token.
_RUN = r"[^\s'\"<>()\[\]{}:/@=,;]"
_URL = re.compile(rf"(?<!{_RUN}){_RUN}*://[^\s'\"<>]*")
# user:password@host without a scheme, in free text.
_BARE = re.compile(r"(?<![\w/:@])([\w.\-]+:)([^\s@/]+)(@[\w\[])")


@dataclass(frozen=True)
class Split:
    """A URL cut where its credentials are (see the module docstring), nothing decoded."""

    scheme: str  # before "://" ("": none written)
    sep: str  # "://", or "" for user:password@host with the scheme forgotten
    user: str | None  # None: no credentials
    password: str | None  # None: none (a user alone, or no credentials)
    rest: str  # after the credentials: host[:port][/database][?query]; or /path for SQLite

    def masked(self) -> str:
        cred = "" if self.user is None else (
            f"{self.user}:{MASK}@" if self.password is not None else f"{self.user}@")
        return self.scheme + self.sep + cred + _mask_query(self.rest)


def split(url: str) -> Split | None:
    """Cut ``url`` at its credentials; None where it is no URL (a libpq string, free text)."""
    head, sep, rest = url.partition("://")
    if not sep and re.match(r"[^\s:/@=]*:[^=]*@", url):  # user:password@host, scheme forgotten
        head, rest = "", url
    elif not sep or re.search(r"[\s='\"]", head):
        return None
    if rest.startswith("/") or "@" not in rest:  # sqlite:///path, or no credentials
        return Split(head, sep, None, None, rest)
    userinfo, _, after = rest.rpartition("@")
    if re.search(r"[/?#]", userinfo.partition(":")[0]):
        # No user name holds these: that '@' is in the database name or query, and only one
        # before the first / ? # (in the host part) ends credentials.
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        if "@" not in authority:
            return Split(head, sep, None, None, rest)
        userinfo, _, host = authority.rpartition("@")
        after = host + rest[len(authority):]
    user, colon, password = userinfo.partition(":")
    return Split(head, sep, user, password if colon else None, after)


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
    parts = split(url)
    return mask_text(url) if parts is None else parts.masked()


def secrets_of(url: str) -> list[str]:
    """Every spelling of the URL's secrets (raw, percent-decoded, percent-encoded), longest
    first, for scrubbing messages that echo them in another form (driver errors)."""
    found: set[str] = set()
    for candidate in [url, *(m.group(0) for m in _URL.finditer(url))]:
        parts = split(candidate)
        if parts is not None and parts.password:
            found.add(parts.password)
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
    parts = split(bare)
    return (bare if parts is None else parts.masked()) + url[len(bare):]
