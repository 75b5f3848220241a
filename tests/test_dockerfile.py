"""The serving Dockerfile, read without Docker: the instructions an image that serves a bundle
safely needs (Docker itself is not installed where these tests run)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, out, current = (ROOT / "Dockerfile").read_text().splitlines(), [], ""
    for line in lines:
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def test_dockerfile_serves_the_bundle_as_a_non_root_user() -> None:
    ins = instructions()
    names = [name for name, _ in ins]
    assert ins[0] == ("FROM", "python:3.11-slim")
    runs = [args for name, args in ins if name == "RUN"]
    torch_at = next(i for i, r in enumerate(runs) if "torch==2.13.0" in r)
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch_at]
    project_at = next(i for i, r in enumerate(runs) if '".[serve' in r)
    assert torch_at < project_at  # the CPU wheel is in place before anything could pull CUDA

    user = [args for name, args in ins if name == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert names.index("USER") < names.index("ENTRYPOINT")

    entry = json.loads(dict(ins)["ENTRYPOINT"])
    assert entry[:3] == ["automl", "serve", "/bundle"]
    port = entry[entry.index("--port") + 1]
    assert entry[entry.index("--host") + 1] == "0.0.0.0"
    assert dict(ins)["EXPOSE"] == port
    health = dict(ins)["HEALTHCHECK"]
    assert re.search(rf"127\.0\.0\.1:{port}/(health|ready)", health)

    assert "ARG" in names and dict(ins)["ARG"].startswith("BUNDLE")
    assert any(name == "COPY" and args.startswith("${BUNDLE}") and args.endswith("/bundle/")
               for name, args in ins)


def test_what_the_image_copies_exists_and_is_not_docker_ignored() -> None:
    ignored = [p.strip().rstrip("/") for p in (ROOT / ".dockerignore").read_text().splitlines()
               if p.strip() and not p.startswith("#")]
    for name, args in instructions():
        if name == "COPY" and "${" not in args:
            for src in args.split()[:-1]:
                path = src.rstrip("/")
                assert (ROOT / path).exists(), src
                assert path not in ignored, src
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serve = " ".join(extras["optional-dependencies"]["serve"])
    for package in ("fastapi", "uvicorn", "prometheus-client"):
        assert package in serve
