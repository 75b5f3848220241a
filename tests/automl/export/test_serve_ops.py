"""What an operator needs: /health vs /ready while the model loads, /metrics, --workers."""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any

import httpx
import pytest
from serve_helpers import running_server

from automl.serve import app as serve

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")]


def test_client(app: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient
    return TestClient(app)


test_client.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def wait_ready(client: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, client.get("/ready").json()
        time.sleep(0.05)


def test_ready_is_503_until_the_model_is_loaded_and_warm(lab, monkeypatch) -> None:  # noqa: ANN001
    gate = threading.Event()
    real = serve.load_predictor

    def slow_load(cfg: Any) -> Any:
        gate.wait(30)
        return real(cfg)

    monkeypatch.setattr(serve, "load_predictor", slow_load)
    client = test_client(serve.create_app(lab.best, "onnx", input_shape=(1, 8, 8),
                                          load_wait_s=1.0))
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["ready"] is False
    for path in ("/ready", "/metadata"):
        r = client.get(path)
        assert r.status_code == 503 and r.json()["detail"] == "model is loading"
    r = client.post("/predict", json={"inputs": [[0.0] * 64]})  # held 1 s, then refused
    assert r.status_code == 503 and r.json()["detail"] == "model is loading"
    # A request that arrives while loading is held until the model is ready, not refused.
    threading.Timer(0.2, gate.set).start()
    assert client.post("/predict", json={"inputs": [[0.0] * 64]}).status_code == 200
    wait_ready(client)
    assert client.get("/health").json()["ready"] is True
    assert client.post("/predict", json={"inputs": [[0.0] * 64]}).status_code == 200


def test_ready_says_why_loading_failed(lab, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    monkeypatch.setattr(serve, "load_predictor", lambda cfg: 1 / 0)
    client = test_client(serve.create_app(tmp_path, "onnx", input_shape=(1, 8, 8)))
    deadline = time.monotonic() + 10
    while "failed" not in (detail := client.get("/ready").json()["detail"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert detail == "model failed to load: ZeroDivisionError: division by zero"
    assert client.get("/health").status_code == 200


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_metrics_count_requests_errors_latency_and_batches(lab) -> None:  # noqa: ANN001
    client = test_client(serve.create_app(lab.best, "onnx", max_batch=16))
    for n in (1, 3, 5):
        assert client.post("/predict", json={"inputs": [[0.5] * 64] * n}).status_code == 200
    assert client.post("/predict", json={"inputs": [[1.0]]}).status_code == 422
    assert client.post("/predict", content=b"0" * 3_000_000).status_code == 413
    assert client.get("/nowhere").status_code == 404
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = samples(r.text)
    assert m[("automl_requests_total", (("path", "/predict"), ("status", "200")))] == 3
    assert m[("automl_requests_total", (("path", "/predict"), ("status", "422")))] == 1
    assert m[("automl_requests_total", (("path", "/predict"), ("status", "413")))] == 1
    assert m[("automl_requests_total", (("path", "other"), ("status", "404")))] == 1
    assert m[("automl_request_errors_total", (("kind", "client"), ("path", "/predict")))] == 2
    assert m[("automl_request_latency_seconds_count", (("path", "/predict"),))] == 5
    assert m[("automl_batch_size_sum", ())] == 9 and m[("automl_batch_size_count", ())] == 3
    # The scrape itself is in flight while the text is written.
    assert m[("automl_requests_in_flight", ())] == 1


def test_workers_share_one_metrics_view(lab) -> None:  # noqa: ANN001
    with running_server(lab.best, "--backend", "onnx", "--workers", "2",
                        "--batch-wait-ms", "2") as (_, base):
        with httpx.Client(base_url=base, timeout=30) as c:
            n = 60
            for i in range(n):  # new connections: the kernel spreads them over the workers
                r = httpx.post(f"{base}/predict", json={"inputs": [[float(i % 16)] * 64]},
                               timeout=30)
                assert r.status_code == 200, r.text
            # Every scrape, whichever worker answers it, sums all workers' counts.
            pids = {httpx.get(f"{base}/health", timeout=30).json()["worker"] for _ in range(60)}
            assert len(pids) == 2, pids  # both workers answered (and counted) requests
            for _ in range(4):
                m = samples(httpx.get(f"{base}/metrics", timeout=30).text)
                assert m[("automl_requests_total", (("path", "/predict"),
                                                    ("status", "200")))] == n
            meta = c.get("/metadata").json()
            assert meta["serving"]["batch_wait_ms"] == 2
