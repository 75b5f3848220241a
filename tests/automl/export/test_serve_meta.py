"""What the server gives away (no paths, no storage URL), what it prints (no raw escapes), and
the serve options it refuses (one line, exit 2)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_kit import run_cli, run_here

from automl.serve.app import ServeConfig
from automl.serve.meta import WITHHELD, looks_like_location, public_metadata
from automl.serve.run import startup_message

REPO = Path(__file__).resolve().parents[3]


def spec_with_secrets() -> dict:
    return {
        "format": "automl-bundle", "study": "s", "trial": 3,
        "arch": {"kind": "mlp", "init_from": "/home/me/weights.bin", "hidden": [32]},
        "loss_formula": "CE(ls=0.1) + 0.5\u00b7Focal(\u03b3=2)",
        "data": {"source": "/home/me/private/data.csv", "val_fraction": 0.15,
                 "sha256": "ab" * 32},
        "storage": "postgresql://me:pw@db.internal/automl",
        "reproduce": {"command": "automl retrain --from /home/me/bundle --out /tmp/x"},
        "train_config": {"epochs": 2, "checkpoint_dir": "runs/x", "device": "cpu"},
        "hparams": {"lr": 0.01, "mirror": "s3://bucket/key"},
        "a_key_added_later": "anything",
    }


def test_metadata_is_an_allow_list_with_locations_withheld() -> None:
    meta = public_metadata(spec_with_secrets())
    text = json.dumps(meta)
    for secret in ("/home/me", "postgresql", "s3://", "runs/x", "reproduce", "storage",
                   "a_key_added_later", "checkpoint_dir"):
        assert secret not in text, secret
    assert meta["arch"] == {"kind": "mlp", "init_from": WITHHELD, "hidden": [32]}
    assert meta["data"] == {"source": WITHHELD, "val_fraction": 0.15, "sha256": "ab" * 32}
    assert meta["train_config"] == {"epochs": 2}
    assert meta["loss_formula"] == spec_with_secrets()["loss_formula"]
    assert public_metadata({"data": {"source": "digits"}})["data"]["source"] == "digits"


@pytest.mark.parametrize("text,location", [
    ("/etc/passwd", True), ("~/x", True), ("C:\\data\\x.csv", True), ("./x.npz", True),
    ("data/x.csv", True), ("https://example.com", True), ("sqlite:///a.db", True),
    ("python:pkg.mod:load", False), ("relu", False), ("CE + 0.5\u00b7Focal(\u03b3=2)", False),
    ("2026-11-28T12:05:48+00:00", False), ("uint8, MinMax calibration", False),
])
def test_what_counts_as_a_location(text: str, location: bool) -> None:
    assert looks_like_location(text) is location


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_served_metadata_of_a_real_bundle_has_no_local_path(lab) -> None:  # noqa: ANN001
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient
    from automl.serve.app import create_app

    # Whatever absolute paths and URLs the bundle holds (storage, reproduce commands) ...
    spec = (lab.best / "spec.json").read_text()
    places = set(re.findall(r"[a-z]+://[^\s\"]+|/[\w.-]+/[^\s\"]+", spec))
    text = TestClient(create_app(lab.best, "onnx")).get("/metadata").text
    assert not [p for p in places if p in text]  # ... the server does not tell
    assert "sqlite" not in text and str(lab.root) not in text
    assert json.loads(text)["data"]["source"] == "digits"


def test_startup_message_escapes_control_characters() -> None:
    spec = {"study": "evil\x1b]0;owned\x07\x1b[2J\r", "trial": 1}
    line = startup_message(spec, ServeConfig("b", batch_wait_ms=5), "127.0.0.1", 8000, 2)
    assert not any(ord(c) < 32 or ord(c) == 127 for c in line), repr(line)
    assert "evil\\x1b]0;owned\\x07\\x1b[2J\\r" in line
    assert "http://127.0.0.1:8000" in line and "2 workers" in line and "5 ms" in line


PORT, BATCH = "a whole number from 1 to 65535", "a whole number from 1 to 65536"
BAD_OPTIONS = [
    (["--port", "0"], f"--port: expected {PORT}, got '0'"),
    (["--port", "70000"], f"--port: expected {PORT}, got '70000'"),
    (["--port", "\u0663"], f"--port: expected {PORT}, got '\u0663'"),  # int() takes it
    (["--max-batch", "0"], f"--max-batch: expected {BATCH}, got '0'"),
    (["--max-batch", "-1"], f"--max-batch: expected {BATCH}, got '-1'"),
    (["--max-batch", "65537"], f"--max-batch: expected {BATCH}, got '65537'"),
    (["--max-batch", "\u00b2"], f"--max-batch: expected {BATCH}, got '\u00b2'"),
    (["--workers", "0"], "--workers: expected a whole number from 1 to 64, got '0'"),
    (["--workers", "65"], "--workers: expected a whole number from 1 to 64, got '65'"),
    (["--batch-wait-ms", "-1"], "--batch-wait-ms: expected a number from 0 to 10000, got '-1'"),
    (["--batch-wait-ms", "nan"], "--batch-wait-ms: expected a number from 0 to 10000, got 'nan'"),
    (["--batch-wait-ms", "1e5"], "--batch-wait-ms: expected a number from 0 to 10000, got '1e5'"),
    (["--batch-wait-ms", "\uff11"],
     "--batch-wait-ms: expected a number from 0 to 10000, got '\uff11'"),
    (["--host", ""], "--host: expected an IP address or host name of this machine, got ''"),
    (["--host", "my host"],
     "--host: expected an IP address or host name of this machine, got 'my host'"),
]


@pytest.mark.parametrize("args,message", BAD_OPTIONS)
def test_bad_serve_options_fail_in_one_line(tmp_path: Path, args: list[str],
                                            message: str) -> None:
    # tmp_path is no bundle: an option that passed would fail on it, so the exact line also
    # shows the options are checked before the bundle is opened (let alone a port bound).
    # The first case in a new process, as a user meets it (all a real stderr holds); the
    # others through the same entry point in this process.
    runner = run_cli if args == BAD_OPTIONS[0][0] else run_here
    proc = runner("serve", str(tmp_path), *args, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr == f"error: {message}\n"


def test_serve_help_and_option_errors_load_no_server_stack(tmp_path: Path) -> None:
    code = ("import sys\nfrom automl.cli.app import app\n"
            "for argv in (['serve', '--help'], ['serve', '.', '--port', '0']):\n"
            "    try:\n        app(argv)\n    except BaseException:\n        pass\n"
            "print([m for m in ('torch', 'fastapi', 'uvicorn', 'prometheus_client', "
            "'onnxruntime') if m in sys.modules])")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60).stdout
    assert out.strip().endswith("[]"), out[-500:]
