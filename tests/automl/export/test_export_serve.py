"""``automl serve``: FastAPI's test client for every case, then once a real Uvicorn process.

More in test_serve_limits (body size), test_serve_ops (/ready, /metrics, --workers),
test_serve_batching and test_serve_meta (what /metadata gives away, option checks)."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from serve_helpers import running_server

from automl.serve.app import create_app

# Starlette's test client warns that it will move to httpx2; nothing here depends on it.
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")]

EXPECTED = "shape [1, 8, 8] (or 64 numbers each)"


@pytest.fixture(scope="module")
def client(lab) -> Any:  # noqa: ANN001
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    return TestClient(create_app(lab.best, backend="onnx", max_batch=16))


def sample(i: int) -> list[float]:
    return [float((i * 7 + j) % 17) for j in range(64)]


def test_health_metadata_predict(client: Any, lab) -> None:  # noqa: ANN001
    assert client.get("/health").json()["status"] == "ok"
    meta = client.get("/metadata").json()
    assert meta["trial"] == lab.best_spec["trial"] and meta["arch"] == lab.best_spec["arch"]
    assert meta["metrics"] == lab.best_spec["metrics"] and meta["costs"]["flops"] > 0
    assert meta["serving"]["max_batch"] == 16
    body = client.post("/predict", json={"inputs": [sample(0), sample(1)]}).json()
    assert len(body["labels"]) == 2 and body["classes"] == lab.best_spec["classes"]
    assert all(math.isclose(sum(p), 1.0, abs_tol=1e-5) for p in body["probabilities"])
    nested = [[[sample(0)[r * 8:(r + 1) * 8] for r in range(8)]]]  # one (1, 8, 8) sample
    assert client.post("/predict", json={"inputs": nested}).json()["labels"] == body["labels"][:1]


BAD = [
    ({"inputs": []}, 422, "empty batch"),
    ({"inputs": [[1.0, 2.0]]}, 422, "samples have shape [2]"),
    ({"inputs": [["x"] * 64]}, 422, "inputs contain text"),
    ({"inputs": [[None] * 64]}, 422, "non-numeric"),
    ({"inputs": [[1.0] * 64, [1.0] * 3]}, 422, "differ in length"),
    ({"inputs": "abc"}, 422, '{"inputs": [...]}'),
    ({"samples": [[0.0] * 64]}, 422, '{"inputs": [...]}'),
    ({"inputs": [[0.0] * 64] * 17}, 413, "over the limit of 16"),
]


def test_bad_requests_get_4xx_saying_what_was_expected(client: Any) -> None:
    good = {"inputs": [sample(3)]}
    reference = client.post("/predict", json=good).json()
    for body, status, message in BAD:
        r = client.post("/predict", json=body)
        assert r.status_code == status, (body, r.text)
        assert message in r.json()["detail"], (body, r.json())
        if status == 422:
            assert EXPECTED in r.json()["detail"]
        # ... and the server keeps serving the same answers.
        assert client.post("/predict", json=good).json() == reference
    nan = json.dumps({"inputs": [[float("nan")] * 64]})  # Python's json writes NaN literally
    r = client.post("/predict", content=nan, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "NaN or infinite" in r.json()["detail"]
    # Finite, but far outside the training range: the network's output is not a number (NaN
    # is not JSON, and a label printed for it would be a guess).
    r = client.post("/predict", json={"inputs": [sample(3), [3e38] * 64]})
    assert r.status_code == 422 and r.json()["detail"].startswith("sample 1: the model's output")
    r = client.post("/predict", content="{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and EXPECTED in r.json()["detail"]
    r = client.post("/predict", content="0" * 2_000_000,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "bytes" in r.json()["detail"]
    assert client.get("/health").status_code == 200


def test_real_uvicorn_process(lab) -> None:  # noqa: ANN001
    with running_server(lab.best) as (_, base):  # waits for /ready: loaded and warmed up
        assert httpx.get(f"{base}/health", timeout=10).json()["ready"] is True
        r = httpx.post(f"{base}/predict", json={"inputs": [sample(0), sample(5)]}, timeout=10)
        assert r.status_code == 200 and len(r.json()["labels"]) == 2
        r = httpx.post(f"{base}/predict", json={"inputs": [[1.0]]}, timeout=10)
        assert r.status_code == 422 and EXPECTED in r.json()["detail"]
        assert httpx.get(f"{base}/metadata", timeout=10).json()["trial"] == lab.best_spec["trial"]
