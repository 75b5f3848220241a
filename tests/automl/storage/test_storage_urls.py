"""The storage URL is parsed once (:class:`StorageUrl`): masking and connecting cut the password
in the same place, engines are built from the parsed object, every bad URL is one masked line,
and the storage package has no import circle, type-only imports included."""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy.engine import make_url

from automl.errors import StorageError
from automl.storage import Storage, mask_url
from automl.storage.engine import engine_kwargs
from automl.storage.urls import StorageUrl, default_artifacts, secrets_of, sqlite_path

MARK = "Sup3r"  # in every password below; never in a masked form or a repr
PASSWORDS = ["p@ss:word", "a@b@c", "pa:ss", "pa/ss", "pa?ss", "pa#ss", "p%40ss%2F", "50%off",
             "with spaces", "pa'ss\"", "pässwörd", "p{x}+y", "::@@//"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_parse_and_mask_cut_the_password_in_one_place(password: str) -> None:
    url = f"postgresql+psycopg://bob:{password}-{MARK}@db.example:6543/name?sslmode=require"
    loc = StorageUrl.parse(url)
    u = loc.sqlalchemy
    assert u.password == unquote(f"{password}-{MARK}")  # the last '@' ends the password
    assert (u.username, loc.host, u.port, u.database, dict(u.query)) == (
        "bob", "db.example", 6543, "name", {"sslmode": "require"})
    assert loc.masked == mask_url(url) == (
        "postgresql+psycopg://bob:***@db.example:6543/name?sslmode=require")
    assert f"{password}-{MARK}" in loc.secrets and MARK not in repr(loc)
    # What Optuna is given reads back as the same URL, whatever the password holds.
    assert make_url(loc.connect_string()) == u


def test_the_parsed_parts() -> None:
    pg = StorageUrl.parse("postgresql+psycopg://u:pw@[::1]:5432/db")
    assert (pg.backend, pg.driver, pg.host, pg.sqlalchemy.port, pg.is_sqlite) == (
        "postgresql", "psycopg", "::1", 5432, False)
    assert make_url(pg.connect_string()) == pg.sqlalchemy
    plain = StorageUrl.parse("postgresql://h/db?application_name=me@x&opt=a&opt=b")
    # No user name holds '/' or '?': that '@' is the query's, not the end of credentials.
    assert (plain.host, plain.sqlalchemy.username, plain.driver) == ("h", None, "")
    assert dict(plain.sqlalchemy.query) == {"application_name": "me@x", "opt": ("a", "b")}
    socket = StorageUrl.parse("postgresql+psycopg://u:pw@/db?host=/run/pg&password=Sup3rQ")
    assert socket.host is None and socket.masked.endswith("?host=/run/pg&password=***")
    assert "Sup3rQ" in socket.secrets and "Sup3rQ" not in repr(socket)
    assert StorageUrl.parse("postgresql://u@h:/db").sqlalchemy.port is None  # "h:": default
    assert StorageUrl.parse("postgresql://u@h:65535/db").sqlalchemy.port == 65535
    assert StorageUrl.parse("mysql+pymysql://u:p@h/db").backend == "mysql"  # not installed: ok


@pytest.mark.parametrize("url, path", [
    ("sqlite://", None),
    ("sqlite:///", None),
    ("sqlite:///:memory:", None),
    ("sqlite:///file::memory:?uri=true", None),
    ("sqlite:///file:m.db?mode=memory&uri=true", None),
    ("sqlite:///a.db", Path("a.db")),
    ("sqlite:////abs/a.db", Path("/abs/a.db")),
    ("sqlite+pysqlite:///a.db?timeout=5", Path("a.db")),
    ("sqlite:///file:a.db?mode=ro&uri=true", Path("a.db")),
    ("sqlite:///sp%20ace.db", Path("sp ace.db")),
    ("sqlite:///home/me@corp/a.db", Path("home/me@corp/a.db")),
])
def test_sqlite_forms(url: str, path: Path | None) -> None:
    loc = StorageUrl.parse(url)
    assert loc.is_sqlite and loc.sqlite_file == path == sqlite_path(url)
    assert loc.masked == url and loc.host is None
    base = path.parent if path is not None else Path.cwd()
    assert loc.default_artifacts() == default_artifacts(url) == (
        base / "automl_artifacts").resolve()


@pytest.mark.parametrize("url, why", [
    ("postgresql+psycopg://u:Sup3r@h:65536/db", "port 65536 is out of range (1 to 65535)"),
    ("postgresql+psycopg://u:p@ss:Sup3r@h:x/db", "port 'x' is not a number"),
    ("postgresql+psycopg://u:Sup3r@h h/db", "host 'h h' is not a host name"),
    ("postgresql+psycopg://u:Sup3r@[::1]x/db", "host '[::1]x' is not an [IPv6] address"),
    ("postgresql+psycopg://u:Sup3r@h/d\tb", "it holds a control character"),
    ("sqlite:///.", "the SQLite path '.' names a folder, not a file"),
    ("sqlite:///x.db?mode=ro", "SQLite takes no 'mode' parameter (SQLite URI ones need uri=true)"),
])
def test_a_bad_url_is_one_masked_line(url: str, why: str) -> None:
    with pytest.raises(StorageError) as info:
        StorageUrl.parse(url)
    message = str(info.value)
    assert message == (f"storage URL {mask_url(url)!r} is not a valid SQLAlchemy URL: {why} "
                       "(e.g. sqlite:///relative.db, sqlite:////absolute.db or "
                       "postgresql+psycopg://user@host:5432/db)")
    assert MARK not in message and "\n" not in message
    with pytest.raises(StorageError, match="not a valid SQLAlchemy URL"):
        Storage(url, create=False, readonly=True)


def test_a_sqlite_file_that_cannot_be_one_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"a folder, not a database file \(storage sqlite"):
        Storage(f"sqlite:///{tmp_path}", create=False, readonly=True)
    with pytest.raises(StorageError, match="File name too long"):
        Storage(f"sqlite:///{tmp_path}/{'a' * 300}.db", create=False, readonly=True)
    with pytest.raises(StorageError, match="folder of the database does not exist"):
        Storage(f"sqlite:///{tmp_path}/no/such/a.db")


def test_secrets_of_a_url_with_a_mistyped_scheme() -> None:
    for url in ("://u:Sup3rA@h/db", "日本://u:Sup3rA@h/db", "post gres://u:Sup3rA@h/db"):
        assert "Sup3rA" in secrets_of(url) and "Sup3rA" not in mask_url(url)


def test_engines_are_built_from_the_parsed_url(tmp_path: Path) -> None:
    pg = StorageUrl.parse("postgresql+psycopg://u:p@h/db?connect_timeout=3&options=-c%20x%3Dy")
    args = engine_kwargs(pg, readonly=True)["connect_args"]
    assert "connect_timeout" not in args  # the URL's own setting wins
    assert "default_transaction_read_only=on" in args["options"]
    assert args["options"].endswith("-c x=y")  # the user's settings come last
    assert engine_kwargs(StorageUrl.parse("mysql+pymysql://u:p@h/db"))["connect_args"] == {
        "connect_timeout": 10}
    db = StorageUrl.parse(f"sqlite:///{tmp_path}/a.db")
    assert "creator" in engine_kwargs(db, readonly=True)
    assert "creator" not in engine_kwargs(db) | engine_kwargs(StorageUrl.parse("sqlite://"),
                                                             readonly=True)


def test_storage_keeps_the_parsed_url(tmp_path: Path) -> None:
    st = Storage(f"sqlite:///{tmp_path}/s.db")
    try:
        assert st.location == StorageUrl.parse(st.url)
        assert st.masked_url == st.location.masked and st.is_sqlite
        assert st.artifacts_root == tmp_path / "automl_artifacts"
    finally:
        st.close()


def _storage_imports() -> dict[str, set[str]]:
    """automl.storage's modules and the storage modules each imports, anywhere in it, under
    ``if TYPE_CHECKING:`` too."""
    root = Path(__file__).resolve().parents[3] / "automl" / "storage"
    names = {".".join(["automl", "storage", *p.relative_to(root).with_suffix("").parts])
             .removesuffix(".__init__"): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):  # "from pkg import mod" imports pkg.mod
                found.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in names
                             else str(node.module) for a in node.names)
        graph[name] = {m for m in found if m in names and m != name}
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), list(graph[start])
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def test_no_import_circle_in_storage_type_only_imports_included() -> None:
    graph = _storage_imports()
    assert "automl.storage.store" in graph["automl.storage.capacity"]  # the check sees these
    circles = sorted(m for m in graph if _reaches(graph, m, m))
    assert circles == [], circles
    assert not _reaches(graph, "automl.storage.reads", "automl.storage.store")
